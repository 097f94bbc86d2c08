"""Placeholders (coursekit.glue) and results pages (coursekit.results)."""

import json

import nbformat
import pytest

from coursekit.glue import PlaceholderError, fill, fill_notebook, hand_written_figures, notebook_records
from coursekit.recording import RECORD_MIME
from coursekit.results import (compare_results, read_results_page, results_page, results_path, tolerance,
                               within_tolerance)


def _executed(records: dict, markdown: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("record(...)")
    code.outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: {"name": k, "value": v}})
                    for k, v in records.items()]
    nb.cells = [code, nbformat.v4.new_markdown_cell(markdown)]
    return nb


def test_placeholders_take_the_exact_recorded_value_and_its_format():
    records = {"hr@10/retrieval": 0.17034, "auc/curatornet": 0.7361, "n_users": 1892}
    text = "HR@10 {{hr@10/retrieval:.3f}} ({{ hr@10/retrieval:.1% }}), AUC {{auc/curatornet}}, {{n_users:,}} users"
    assert fill(text, records) == "HR@10 0.170 (17.0%), AUC 0.7361, 1,892 users"


def test_a_placeholder_without_a_record_is_an_error_naming_it_or_a_visible_mark():
    with pytest.raises(PlaceholderError, match=r"\{\{hr@10/als:.3f\}\} names no figure"):
        fill("ALS {{hr@10/als:.3f}}", {})
    assert fill("ALS {{hr@10/als:.3f}}", {}, missing="mark") == "ALS \u27e8hr@10/als: not recorded\u27e9"


def test_records_are_read_back_from_an_executed_notebook_and_filled_in_markdown():
    nb = _executed({"auc": 0.91, "auc/random": 0.5}, "AUC {{auc:.2f}} against {{auc/random:.2f}}")
    assert notebook_records(nb) == {"auc": 0.91, "auc/random": 0.5}
    filled = fill_notebook(nb)
    assert filled.cells[1].source == "AUC 0.91 against 0.50"
    assert nb.cells[1].source.startswith("AUC {{")  # the input is left as it was


def test_a_record_in_a_kernel_is_kept_in_the_output(tmp_path):
    from coursekit.notebooks import execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import coursekit\ncoursekit.record('auc', 0.123456789)\n"
                                          "_ = coursekit.record('n', 7, quiet=True)")]
    run, _ = execute_notebook(nb, cwd=tmp_path, env={"COURSEKIT_RECORD": ""})
    assert notebook_records(run) == {"auc": 0.123456789, "n": 7}
    texts = [o["data"].get("text/plain") for o in run.cells[0].outputs]
    assert texts == ["[record] auc = 0.1235", None]  # quiet: kept, not shown


def test_source_placeholders_read_the_committed_results_page(tmp_path):
    page = results_page("04", "lastfm", "04_music_cf.ipynb", {"hr@10/als": 0.2171, "runtime_s": 88.0},
                        [{"statement": "ALS beats popularity", "holds": True}], parameters={"DATA_SOURCE": "lastfm"})
    results_path("04", "lastfm", tmp_path).write_text(page, encoding="utf-8")
    text = "on Last.fm {{lastfm::hr@10/als:.3f}}"
    assert fill(text, {}, results_dir=tmp_path, unit="04") == "on Last.fm 0.217"
    with pytest.raises(PlaceholderError, match="results page of unit 04 on 'real'"):
        fill("{{real::hr@10/als}}", {}, results_dir=tmp_path, unit="04")


def test_hand_written_figures_are_found_and_placeholders_code_and_fixed_constants_pass():
    text = ("Guided sampling reached {{auc/curatornet:.3f}} against 0.735 for random; 17.5 % of negatives change; "
            "29,696 products; the paper reports .7151 <!-- fixed: .7151, 0.05 -->; p < 0.05; `margin=0.1`; "
            "top 10 over 5 seeds (2 points)")
    assert hand_written_figures(text) == ["0.735", "17.5 %", "29,696"]


def test_results_pages_round_trip_and_show_tolerances(tmp_path):
    records = {"hr@10/als": 0.2171, "claims/total": 21, "p_value/two_tower_vs_als": 0.003, "runtime_s": 88.5}
    claims = [{"statement": "ALS beats popularity (difference +0.1)", "holds": True},
              {"statement": "a | pipe", "holds": False},
              {"statement": "sessions end where they start", "holds": None, "reason": "needs sessions"}]
    path = tmp_path / "04-lastfm.md"
    path.write_text(results_page("04", "lastfm", "04_music_cf.ipynb", records, claims,
                                 parameters={"DATA_SOURCE": "lastfm"}, seconds=88.5), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert "`coursekit results --unit 04 -p DATA_SOURCE=lastfm`" in text
    assert "| `hr@10/als` | 0.2171 | \u00b10.0109 |" in text
    assert "1. \u2713 ALS beats popularity" in text and "2. \u2717 a \\| pipe" in text
    assert "3. \u2013 sessions end where they start \u2014 not checked: needs sessions" in text
    data = read_results_page(path)
    assert data["records"] == records and data["claims"] == claims
    assert compare_results(data, data) == []


@pytest.mark.parametrize("name,old,new,ok", [
    ("hr@10/als", 0.2171, 0.2250, True), ("hr@10/als", 0.2171, 0.2350, False),
    ("hr@10/x", 0.01, 0.014, True), ("hr@10/x", 0.01, 0.016, False),
    ("p_value/a_vs_b", 0.003, 0.04, True), ("p_value/a_vs_b", 0.003, 0.06, False),
    ("claims/failed", 0, 1, False), ("runtime_s", 80.0, 300.0, True), ("n_users", 1892, 1892, True),
])
def test_tolerances(name, old, new, ok):
    assert within_tolerance(name, old, new) is ok
    assert tolerance("runtime_s", 1.0).startswith("not compared")


def test_compare_results_names_what_moved():
    old = {"records": {"hr@10/als": 0.2171, "gone": 1}, "claims": [{"statement": "s", "holds": True}]}
    new = {"records": {"hr@10/als": 0.30}, "claims": [{"statement": "s", "holds": False}]}
    problems = compare_results(old, new)
    assert any(p.startswith("hr@10/als: 0.2171 -> 0.3") for p in problems)
    assert any(p.startswith("gone: recorded before") for p in problems)
    assert any(p.startswith("claim 1 \u2713 -> \u2717") for p in problems)


def test_a_page_without_its_data_block_is_a_clear_error(tmp_path):
    from coursekit.errors import DataError

    path = tmp_path / "05-real.md"
    path.write_text("# edited by hand\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a results page"):
        read_results_page(path)
    path.write_text("<!-- coursekit-results {not json} -->", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        read_results_page(path)


def test_a_borderline_test_may_flip_elsewhere_and_the_page_says_so(tmp_path):
    old = {"records": {"p_value/a_vs_b": 0.048}, "claims": [{"statement": "a beats b", "holds": True, "p": 0.048,
                                                             "alpha": 0.05}]}
    flipped = {"records": {"p_value/a_vs_b": 0.052}, "claims": [{"statement": "a beats b", "holds": False, "p": 0.052,
                                                                 "alpha": 0.05}]}
    assert compare_results(old, flipped) == []
    clear = {"records": {"p_value/a_vs_b": 0.001}, "claims": [{"statement": "a beats b", "holds": True, "p": 0.001,
                                                               "alpha": 0.05}]}
    lost = {"records": {"p_value/a_vs_b": 0.3}, "claims": [{"statement": "a beats b", "holds": False, "p": 0.3,
                                                            "alpha": 0.05}]}
    assert len(compare_results(clear, lost)) == 2  # a clear verdict that changes is a failure
    page = results_page("04", "lastfm", "04_music_cf.ipynb", old["records"], old["claims"])
    assert "*(borderline: p within a factor of two of the level)*" in page


def test_statistical_claims_carry_their_p_value_into_the_notebook(tmp_path):
    from coursekit.notebooks import execute_notebook
    from coursekit.results import notebook_claims

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import numpy as np, coursekit\ncoursekit.start_notebook('x.ipynb', data_source='real')\n"
        "r = np.random.default_rng(0); b = r.random(200)\n"
        "coursekit.claim_better(b + 0.1 + r.normal(0, 0.1, 200), b, 'a beats b')\ncoursekit.claim(True, 'plain')")])
    run, _ = execute_notebook(nb, cwd=tmp_path, env={"COURSEKIT_RECORD": ""})
    claims = notebook_claims(run)
    assert claims[0]["holds"] is True and claims[0]["p"] < 1e-6 and claims[0]["alpha"] == 0.05
    assert "p" not in claims[1]
