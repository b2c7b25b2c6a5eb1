"""The local runner keeps TFX from packaging itself for Beam workers that run in this environment."""

from __future__ import annotations

import pytest
from tfx.utils import dependency_utils

from lightrank.pipeline import local_runner

DIRECT = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@pytest.mark.parametrize(
    ("args", "local"),
    [
        (DIRECT, True),
        (["--runner=DirectRunner"], True),
        (["--runner=DataflowRunner", "--project=p", "--region=r"], False),
        (["--runner=FlinkRunner"], False),
    ],
)
def test_only_the_direct_runner_counts_as_this_machine(args, local):
    assert local_runner.runs_on_this_machine(args) is local


def test_no_sdist_is_built_for_the_direct_runner_and_the_hook_is_restored(monkeypatch):
    def forbidden() -> str:
        raise AssertionError("TFX tried to build its ephemeral sdist")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", forbidden)
    original = dependency_utils.make_beam_dependency_flags
    with local_runner._without_tfx_sdist(DIRECT):
        assert dependency_utils.make_beam_dependency_flags(DIRECT) == DIRECT
    assert dependency_utils.make_beam_dependency_flags is original
    with pytest.raises(AssertionError, match="ephemeral sdist"):  # outside, TFX's own behaviour
        dependency_utils.make_beam_dependency_flags(DIRECT)


def test_remote_runners_keep_tfx_packaging(monkeypatch):
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", lambda: "/tmp/tfx.tar.gz")
    args = ["--runner=DataflowRunner", "--project=p", "--region=r"]
    with local_runner._without_tfx_sdist(args):
        assert dependency_utils.make_beam_dependency_flags(args) == [*args, "--extra_package=/tmp/tfx.tar.gz"]
