"""A push SIGKILLed in the middle of its copy: nothing at any version path, and the next push is whole.

TFX's own executor, killed there, left a version directory with variables and no
`saved_model.pb`, the newest version on disk and unloadable. Here a process is killed (no
handler runs, as on a lost machine) right after the first file of the model is copied.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from lightrank.components.verified_pusher import (
    TEMPORARY_MARK,
    find_complete_push,
    model_fingerprint,
    push_model,
)

pytestmark = pytest.mark.faults

#: Run in a child process: push, and SIGKILL the process once one file of the model is copied.
_KILLED_PUSH = textwrap.dedent(
    """
    import os, signal, sys
    from lightrank.components import verified_pusher

    real = verified_pusher._copy_file

    def copy_then_die(src, dst):
        real(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)

    verified_pusher._copy_file = copy_then_die
    model_dir, serving_dir = sys.argv[1:3]
    fingerprint = verified_pusher.model_fingerprint(model_dir, model_dir)
    verified_pusher.push_model(model_dir, serving_dir, "1700000000", fingerprint)
    """
)


class _Scorer(tf.Module):
    """A servable stand-in model: every candidate scores 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = tf.Variable(0.5)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"prediction": tf.fill([tf.shape(examples)[0], 1], self.weight)}


def test_a_push_killed_midway_leaves_no_version_and_the_next_push_is_whole(tmp_path):
    model_dir, serving = str(tmp_path / "model"), tmp_path / "serving"
    scorer = _Scorer()
    tf.saved_model.save(scorer, model_dir, signatures={"serving_default": scorer.serve})

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_PUSH, model_dir, str(serving)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = os.listdir(serving)
    assert len(left) == 1 and left[0].startswith(".1700000000" + TEMPORARY_MARK)  # only the hidden copy
    assert not any(name.isdigit() for name in left)
    fingerprint = model_fingerprint(model_dir, model_dir)
    assert find_complete_push(str(serving), fingerprint) is None  # nothing counts as pushed

    version_dir = push_model(model_dir, str(serving), "1700000001", fingerprint)
    assert os.listdir(serving) == ["1700000001"]  # the killed push's temporary is gone
    assert find_complete_push(str(serving), fingerprint) == version_dir
    served = tf.saved_model.load(version_dir).signatures["serving_default"]
    assert served(examples=tf.constant([b""] * 2))["prediction"].shape == (2, 1)
