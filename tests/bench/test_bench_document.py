"""BENCHMARKS.md is assembled from the part tables in a fixed order, atomically."""

from __future__ import annotations

import datetime
import os

import pytest

from lightrank_bench import document


def _write(directory: str, stem: str, text: str) -> None:
    with open(os.path.join(directory, f"{stem}.md"), "w") as f:
        f.write(text)


def test_parts_appear_under_their_headings_in_section_order(tmp_path):
    _write(tmp_path, "quality", "### Quality table\n| a |\n")
    _write(tmp_path, "serving", "### Serving table\n| b |\n")
    text = document.assemble(str(tmp_path), datetime.datetime(2026, 11, 29, 3, 0))
    assert "2026-11-29 03:00 UTC" in text
    assert (
        text.index("## Serving throughput")
        < text.index("### Serving table")
        < text.index("## Quality on held-out requests")
        < text.index("### Quality table")
    )
    assert "## Training throughput" not in text  # absent parts are left out, not faked
    assert "- [Serving throughput](#serving-throughput)" in text


def test_no_parts_is_an_error_and_leaves_the_old_document(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("old")
    assert document.main(["--parts-dir", str(tmp_path), "--out", str(out)]) == 2
    assert out.read_text() == "old"
    with pytest.raises(FileNotFoundError, match="make bench"):
        document.assemble(str(tmp_path))


def test_main_writes_the_document(tmp_path):
    _write(tmp_path, "training", "### Training table\n")
    out = tmp_path / "BENCHMARKS.md"
    assert document.main(["--parts-dir", str(tmp_path), "--out", str(out)]) == 0
    assert "## Training throughput" in out.read_text() and not os.path.exists(f"{out}.tmp")


def test_the_catalog_quality_table_has_its_own_section_with_the_findings_under_it(tmp_path):
    for stem in ("quality", "quality-catalog", "presets"):
        _write(tmp_path, stem, f"### {stem} table\n| {stem} |\n")
    text = document.assemble(str(tmp_path), datetime.datetime(2026, 12, 6, 21, 0))
    findings = document.FINDINGS["quality-catalog"]
    assert (
        text.index("## Quality on held-out requests")
        < text.index("## Quality on the catalog data set")
        < text.index("### quality-catalog table")
        < text.index(findings)
        < text.index("## DeepNorm settings")
        < text.index("### presets table")
        < text.index(document.FINDINGS["presets"])
    )
    # Findings only under the sections written, one each ("quality" has none of its own).
    assert (
        text.count("**Findings") == 2
        and "- [Quality on the catalog data set](#quality-on-the-catalog-data-set)" in text
    )
