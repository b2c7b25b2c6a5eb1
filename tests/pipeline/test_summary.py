"""The end-of-run summary `make run` prints: what ran and for how long, the blessing, the push, the paths."""

from __future__ import annotations

from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
from lightrank.pipeline.metadata.runs import ComponentRun, RunRecord
from lightrank.pipeline.summary import format_summary

COMPONENTS = ("ImportExampleGen", "StatisticsGen", "Evaluator", "Pusher")


def _record(*, blessed: bool | None, pushed: str | None, components=COMPONENTS) -> RunRecord:
    return RunRecord(
        run_id="20261129-031500",
        components=tuple(
            ComponentRun(name, "complete", seconds=10.0 * (index + 1), execution_id=index + 1)
            for index, name in enumerate(components)
        ),
        blessed=blessed,
        pushed_model=pushed,
        evaluation_uri=None,
        model_uri="/runs/Trainer/model/7",
    )


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_a_pushed_run_names_each_component_time_the_model_and_where_things_are():
    config = load_config(SAMPLE_CONFIG)
    record = _record(blessed=True, pushed="/serving/1795917291")
    lines = _lines(format_summary(config, record, log_file="/logs/run.log", ok=True, expected=COMPONENTS))
    assert f"Run 20261129-031500 of pipeline '{config.name}'" in lines
    assert "  ImportExampleGen                 complete     10.0 s" in lines
    assert "  Pusher                           complete     40.0 s" in lines
    assert "  total                                        100.0 s" in lines
    assert "Blessed:        yes" in lines
    assert "Pushed model:   /serving/1795917291" in lines
    assert "Trained model:  /runs/Trainer/model/7" in lines
    assert f"ML Metadata:    {config.metadata.sqlite}" in lines
    assert f"Pipeline root:  {config.root}" in lines
    assert lines[-1] == "Full log:       /logs/run.log"


def test_an_unblessed_run_says_so_and_shows_the_pusher_as_skipped():
    config = load_config(SAMPLE_CONFIG)
    record = _record(blessed=False, pushed=None, components=COMPONENTS[:-1])
    lines = _lines(format_summary(config, record, log_file="/l", ok=True, expected=COMPONENTS))
    assert "Blessed:        NO (a quality gate failed)" in lines
    assert "Pushed model:   nothing was pushed" in lines
    assert "  Pusher                           skipped" in lines


def test_a_failed_run_ends_by_saying_it_failed_and_lists_no_skipped_components():
    config = load_config(SAMPLE_CONFIG)
    record = _record(blessed=None, pushed=None, components=COMPONENTS[:2])
    text = format_summary(config, record, log_file="/l", ok=False, expected=COMPONENTS)
    assert text.endswith("The run FAILED; the error is above and in the full log.")
    assert "skipped" not in text and "Blessed:" not in text


def test_a_model_already_pushed_whole_is_named_where_it_is():
    """The Pusher ran and pushed nothing new: the summary says where the model is served from."""
    import dataclasses

    config = load_config(SAMPLE_CONFIG)
    record = dataclasses.replace(_record(blessed=True, pushed=None), already_pushed="/serving/1795917291")
    lines = _lines(format_summary(config, record, log_file="/l", ok=True, expected=COMPONENTS))
    assert (
        "Pushed model:   nothing new: this model is already pushed, complete, at /serving/1795917291" in lines
    )
