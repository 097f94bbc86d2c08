"""`coursekit build` and `coursekit export` on unit 1: self-contained HTML with embedded images."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.build import build
from coursekit.grading.export import export_notebook, summarise

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_build_unit_one(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_RECORD", str(tmp_path / "rec.jsonl"))
    results = build(REPO / "solutions", tmp_path / "build", units=["01"], progress=False)
    assert results[0]["ok"], results[0]["error"]
    page = (tmp_path / "build" / "html" / "01_content_based_art.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert len(images) >= 8 and all(src.startswith("data:image/png;base64,") for src in images)
    records = {r["name"]: r["value"] for r in map(json.loads, (tmp_path / "rec.jsonl").read_text().splitlines())}
    for name in ("precision@10", "recall@10", "ndcg@10", "auc", "ndcg@10/random", "runtime_s"):
        assert name in records
    assert records["ndcg@10"] >= 3 * records["ndcg@10/random"]
    assert records["runtime_s"] <= 60
    index = (tmp_path / "build" / "html" / "index.html").read_text()
    assert "01_content_based_art.html" in index and "ndcg@10" in index


def test_export_summary_from_stored_outputs(tmp_path):
    src = REPO / "solutions" / "01_content_based_art.ipynb"
    out = export_notebook(src, tmp_path / "u1.html", execute=False)
    page = out.read_text()
    assert 'id="coursekit-summary"' in page and 'data-passed="4" data-total="4"' in page
    student = nbformat.read(REPO / "notebooks" / src.name, as_version=4)
    rows = summarise(student)
    assert [r["status"] for r in rows] == ["not attempted"] * 4
