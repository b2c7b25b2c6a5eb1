"""`--tuned LABEL:PATH`: a quality row with a Tuner's best hyperparameters on the default preset."""

from __future__ import annotations

import json
import os

import pytest

from lightrank.pipeline.config import SAMPLE_CONFIG
from lightrank_bench.quality import model_subjects, tuned_variant


def _artifact(root, execution: str, values: dict) -> str:
    directory = root / "Tuner" / "best_hyperparameters" / execution
    directory.mkdir(parents=True)
    (directory / "best_hyperparameters.txt").write_text(json.dumps({"space": [], "values": values}))
    return str(directory / "best_hyperparameters.txt")


def test_the_newest_best_hyperparameters_become_the_overrides_the_trainer_would_apply(tmp_path):
    old = _artifact(tmp_path, "7", {"learning_rate": 0.5})
    os.utime(old, (1, 1))
    _artifact(tmp_path, "12", {"learning_rate": 0.12, "dropout": 0.0, "use_missing_sub_branch": False})
    label, overrides = tuned_variant(f"tuned default:{tmp_path / 'Tuner' / 'best_hyperparameters'}")
    assert label == "tuned default"
    assert overrides == (
        "model.deepnorm.dropout=0.0",
        "model.training.learning_rate=0.12",
        "model.deepnorm.use_missing_sub_branch=false",
    )
    subjects = model_subjects(SAMPLE_CONFIG, [], ["deepnorm-default"], [(label, overrides)])
    tuned, default = subjects[label], subjects["deepnorm-default"]
    assert (tuned.training.learning_rate, tuned.deepnorm.dropout) == (0.12, 0.0)
    assert tuned.deepnorm.use_missing_sub_branch is False and default.deepnorm.use_missing_sub_branch
    assert tuned.training.optimizer == default.training.optimizer  # the rest is the default preset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no path", "is not LABEL:PATH"),
        ("deepnorm-default:/x", "already a model name"),
        ("tuned:/nowhere", "no best_hyperparameters.txt under /nowhere"),
    ],
)
def test_a_bad_tuned_row_is_refused_naming_it(text, message):
    with pytest.raises(ValueError, match=message):
        tuned_variant(text)


def test_hyperparameters_of_another_search_are_refused(tmp_path):
    path = _artifact(tmp_path, "1", {"units_1": 32})
    with pytest.raises(ValueError, match="not a lightrank Tuner"):
        tuned_variant(f"tuned:{path}")
