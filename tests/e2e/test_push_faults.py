"""A push that fails half-way leaves nothing to serve, and the next run pushes the model."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import tensorflow as tf
from e2e_support import run, tiny_config

from lightrank.components import verified_pusher
from lightrank.components.verified_pusher import PUSHED_FROM_FILE, PushTargetError
from lightrank.pipeline.metadata.runs import list_runs, open_store
from lightrank.pipeline.summary import format_summary

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def _states(record) -> dict[str, str]:
    return {c.component: c.state for c in record.components}


def test_a_failed_push_leaves_nothing_and_the_next_run_pushes(tmp_path, tiny_data, monkeypatch):
    config = tiny_config(tmp_path, tiny_data)
    serving = config.serving_dir

    def full_disk(src: str, dst: str) -> None:  # the commit itself fails: the worst moment
        raise OSError(errno.ENOSPC, "No space left on device", dst)

    with monkeypatch.context() as patch:
        patch.setattr(verified_pusher, "_rename", full_disk)
        with pytest.raises(PushTargetError, match=rf"serving_dir {serving} failed: no space left"):
            run(config, tmp_path)
    failed = list_runs(open_store(config.metadata), config.name)[0]
    assert failed.status == "failed" and failed.failed_component == "Pusher"
    assert failed.blessed is True and failed.pushed_model is None
    assert not os.path.exists(serving) or os.listdir(serving) == []  # no version, no temporary

    # The model whose push failed is now the last blessed one; it is pushed all the same.
    run(config, tmp_path)
    second = list_runs(open_store(config.metadata), config.name)[0]
    states = _states(second)
    assert second.status == "complete" and states["Trainer"] == "cached"
    assert second.pushed_model and os.path.dirname(second.pushed_model) == serving
    assert os.listdir(serving) == [os.path.basename(second.pushed_model)]
    assert os.path.isfile(os.path.join(second.pushed_model, PUSHED_FROM_FILE))
    serve = tf.saved_model.load(second.pushed_model).signatures["serving_default"]
    scores = serve(examples=tf.constant([tf.train.Example().SerializeToString()] * 2))["prediction"]
    assert np.all(np.isfinite(scores.numpy()))

    # An unchanged re-run: the Evaluator and the Pusher come from the cache; nothing new is pushed,
    # and the summary says where the earlier push went.
    run(config, tmp_path)
    third = list_runs(open_store(config.metadata), config.name)[0]
    assert third.status == "complete" and _states(third)["Pusher"] == "cached"
    assert os.listdir(serving) == [os.path.basename(second.pushed_model)]
    summary = format_summary(config, third, log_file="/l", ok=True)
    assert f"Pushed model:   {second.pushed_model} (pushed by an earlier run" in summary
