"""``coursekit.claim``: a measured statement holds, or the lesson stops (toy) / says so (real)."""

import json

import numpy as np
import pytest

import coursekit
from coursekit.claims import Claim, ClaimError, claim, claim_counts, record_claims, reset_claims


def test_a_claim_that_holds_is_shown_with_a_tick(capsys):
    reset_claims("toy")
    claim(0.21 > 0.12, f"Euclidean beats cosine: nDCG@10 {0.21:.3f} vs {0.12:.3f}")
    assert capsys.readouterr().out.strip() == "\u2713 Euclidean beats cosine: nDCG@10 0.210 vs 0.120"
    assert claim_counts() == {"total": 1, "failed": 0}


def test_a_false_claim_on_toy_data_raises(capsys):
    reset_claims("toy")
    with pytest.raises(ClaimError, match="no longer supports it"):
        claim(np.float64(0.1) > 0.2, "the model beats popularity")
    assert "does not hold on this data" in capsys.readouterr().out
    assert claim_counts() == {"total": 1, "failed": 1}
    assert issubclass(ClaimError, AssertionError)  # nbval and build report it as a failed cell


def test_a_false_claim_on_real_data_is_shown_and_the_notebook_goes_on(capsys):
    reset_claims("real")
    claim(False, "retrieval beats user-kNN: HR@10 0.039 vs 0.042")
    claim(True, "retrieval beats popularity")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("\u2717 does not hold on this data: retrieval beats user-kNN: HR@10 0.039 vs 0.042"
                      " \u2014 discuss why")
    assert out[1].startswith("\u2713 ")
    assert claim_counts() == {"total": 2, "failed": 1}


def test_record_claims_writes_the_two_figures(tmp_path, monkeypatch):
    path = tmp_path / "rec.jsonl"
    monkeypatch.setenv("COURSEKIT_RECORD", str(path))
    monkeypatch.setenv("COURSEKIT_NOTEBOOK", "04_music_cf.ipynb")
    coursekit.start_notebook("04_music_cf.ipynb", seed=0, data_source="real")
    coursekit.claim(True, "a")
    coursekit.claim(False, "b")
    coursekit.claim(True, "c")
    assert record_claims() == {"total": 3, "failed": 1}
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert rows == [
        {"notebook": "04_music_cf.ipynb", "name": "claims/total", "value": 3},
        {"notebook": "04_music_cf.ipynb", "name": "claims/failed", "value": 1},
    ]


def test_start_notebook_resets_the_count():
    reset_claims("toy")
    claim(True, "x")
    coursekit.start_notebook("01_content_based_art.ipynb", seed=0, data_source="toy")
    assert claim_counts() == {"total": 0, "failed": 0}


@pytest.mark.parametrize("condition", [np.array([True, False]), np.array([1, 2])])
def test_an_ambiguous_condition_is_a_clear_error(condition):
    reset_claims("toy")
    with pytest.raises(TypeError, match="one true/false value"):
        claim(condition, "all users are better off")
    assert claim_counts()["total"] == 0


@pytest.mark.parametrize("statement", ["", "   ", None])
def test_a_claim_needs_a_statement(statement):
    with pytest.raises(TypeError, match="statement"):
        claim(True, statement)


def test_html_is_escaped_and_marked():
    ok = Claim("a < b & c", True, True).as_html()
    assert 'data-holds="true"' in ok and "a &lt; b &amp; c" in ok and "\u2713" in ok
    bad = Claim("x", False, False).as_html()
    assert 'data-holds="false"' in bad and "does not hold on this data" in bad and "discuss why" in bad
