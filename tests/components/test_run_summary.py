"""The Markdown summary the Kubeflow / Vertex UIs show for a run."""

from __future__ import annotations

import math

from lightrank.components.run_summary import WORST_SLICES, summary_markdown

OVERALL = {"example_count": 2000.0, "auc_unweighted": 0.81, "rce_unweighted": 12.5, "ctr_unweighted": 0.02}


def _slices(aucs: dict[str, float]) -> dict[str, dict[str, float]]:
    return {"Overall": OVERALL} | {
        name: {"example_count": 100.0, "auc_unweighted": auc, "rce_unweighted": 1.0}
        for name, auc in aucs.items()
    }


def test_a_blessed_run_lists_the_overall_metrics_and_the_worst_slices_first():
    text = summary_markdown(True, _slices({"s:a": 0.9, "s:b": 0.6, "s:c": math.nan, "s:d": 0.7}), [])
    assert text.startswith("## Blessed\n\nEvery quality gate passed.")
    assert "| auc_unweighted | 0.8100 |" in text and "| example_count | 2,000 |" in text
    worst = text.split("### Worst slices by auc_unweighted")[1]
    rows = [line.split("|")[1].strip() for line in worst.splitlines() if line.startswith("| s:")]
    assert rows == ["s:b", "s:d", "s:a"]  # ascending AUC; the n/a slice is not ranked


def test_failed_gates_are_listed_and_at_most_five_slices_are_shown():
    failed = ["| Overall | auc_unweighted | 0.5000 | value_threshold { lower_bound { value: 0.6 } } |"]
    text = summary_markdown(False, _slices({f"s:{i}": 0.5 + i / 100 for i in range(8)}), failed)
    assert text.startswith("## Not blessed\n\nFailed gates:")
    assert failed[0] in text
    assert text.count("| s:") == WORST_SLICES


def test_without_slices_there_is_no_worst_slices_table():
    assert "Worst slices" not in summary_markdown(True, {"Overall": OVERALL}, [])
