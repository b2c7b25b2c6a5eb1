"""A re-run whose model is the last blessed model: scored once, blessed as TFX would bless it.

The first run trains, blesses and pushes a model; the second, with the same data and config,
gets that model from the Trainer's cache and, from `latest_blessed_model_resolver`, the same
artifact as its baseline. TFMA must score one model, not the same model twice, and the blessing
must be the one a comparison of the model with itself gives.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest
import tensorflow_model_analysis as tfma
from e2e_support import run, tiny_config
from ml_metadata.proto import metadata_store_pb2

from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.components.run_report import artifacts
from lightrank.components.runtime_evaluator import DIFFERS_FROM_BASELINE
from lightrank.components.self_comparison import BASELINE_IS_CANDIDATE
from lightrank.pipeline.config import PipelineConfig
from lightrank.pipeline.metadata.runs import RunRecord, list_runs, open_store
from lightrank.pipeline.summary import EVALUATED_ONCE, format_summary

pytestmark = pytest.mark.e2e

#: A value gate and a change gate that a difference of 0 meets (the sample config's kind).
TOLERANT = (
    "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0},"
    " rce_unweighted: {change: higher_is_better, absolute: -0.5}}"
)
#: A change gate that asks for an improvement: a model compared with itself fails it.
IMPROVE = (
    "evaluation.thresholds={auc_unweighted: {lower_bound: 0.0},"
    " rce_unweighted: {change: higher_is_better, absolute: 0.01}}"
)


@dataclasses.dataclass(frozen=True)
class Run:
    """One run: its config, ML Metadata record, Evaluator blessing and the models TFMA scored."""

    config: PipelineConfig
    record: RunRecord
    blessing: dict[str, int | str]
    scored: list[str]
    served: list[str]


def _blessing(config: PipelineConfig, record: RunRecord) -> dict[str, int | str]:
    """The custom properties of the run's Evaluator blessing."""
    store = open_store(config.metadata)
    evaluator = next(c for c in record.components if c.component == "Evaluator")
    events = store.get_events_by_execution_ids([evaluator.execution_id])
    outputs = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    (blessing,) = [a for a in store.get_artifacts_by_id(outputs) if a.type == "ModelBlessing"]
    return {
        key: value.int_value if value.HasField("int_value") else value.string_value
        for key, value in blessing.custom_properties.items()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_data: str) -> Iterator[dict[str, Run]]:
    """A first run, its re-run with the same gates, and a re-run with a gate asking for an improvement."""
    workdir = tmp_path_factory.mktemp("baseline_is_candidate")
    scored: list[str] = []
    original = tfma.default_eval_shared_model

    def counting(*args, **kwargs):  # TFX's Evaluator makes one shared model per model it scores
        scored.append(kwargs.get("model_name", ""))
        return original(*args, **kwargs)

    result = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfma, "default_eval_shared_model", counting)
        for name, gates in (("first", TOLERANT), ("again", TOLERANT), ("improve", IMPROVE)):
            config = tiny_config(workdir, tiny_data, gates)
            scored.clear()
            run(config, workdir)
            record = list_runs(open_store(config.metadata), config.name)[0]
            served = sorted(os.listdir(config.serving_dir))
            result[name] = Run(config, record, _blessing(config, record), list(scored), served)
    yield result


def _states(record: RunRecord) -> dict[str, str]:
    return {c.component: c.state for c in record.components}


def test_the_first_run_blesses_and_pushes_its_model(runs):
    first = runs["first"]
    assert first.record.blessed is True and first.record.pushed_model
    assert first.scored == [""]  # no baseline yet: one model
    assert BASELINE_IS_CANDIDATE not in first.blessing and first.blessing[DIFFERS_FROM_BASELINE] == 1


def test_a_rerun_scores_its_model_once_and_blesses_it_as_the_first_run_did(runs):
    first, again = runs["first"], runs["again"]
    states = _states(again.record)
    assert states["Trainer"] == "cached" and states["Evaluator"] == "complete"
    assert again.scored == [""]  # one model scored, not candidate and baseline
    assert again.blessing[BASELINE_IS_CANDIDATE] == 1
    assert again.blessing[DIFFERS_FROM_BASELINE] == 0
    assert again.blessing["current_model_id"] == again.blessing["baseline_model_id"]
    assert again.blessing["baseline_model"] == first.record.model_uri
    assert again.record.blessed is first.record.blessed is True
    assert again.record.pushed_model is None and again.served == first.served  # nothing new pushed

    overall = metrics_by_slice(again.record.evaluation_uri)["Overall"]
    assert overall == pytest.approx(metrics_by_slice(first.record.evaluation_uri)["Overall"], nan_ok=True)
    change_gates = [g for g in artifacts.gates(again.record.evaluation_uri, overall) if "change" in g.rule]
    assert [(g.metric, g.value, g.passed) for g in change_gates] == [("rce_unweighted", 0.0, True)]
    summary = format_summary(again.config, again.record, log_file="/l", ok=True)
    assert EVALUATED_ONCE in summary.splitlines()
    assert EVALUATED_ONCE not in format_summary(first.config, first.record, log_file="/l", ok=True)


def test_a_change_gate_asking_for_an_improvement_fails_against_the_model_itself(runs):
    first, improve = runs["first"], runs["improve"]
    assert _states(improve.record)["Trainer"] == "cached"
    assert improve.scored == [""]
    assert improve.blessing[BASELINE_IS_CANDIDATE] == 1
    assert improve.record.blessed is False
    assert improve.record.pushed_model is None and improve.served == first.served
    failed = {
        (failure.metric_key.name, failure.metric_key.is_diff)
        for per_slice in tfma.load_validation_result(
            improve.record.evaluation_uri
        ).metric_validations_per_slice
        for failure in per_slice.failures
    }
    assert ("rce_unweighted", True) in failed and "auc_unweighted" not in {name for name, _ in failed}


def test_the_rerun_output_reads_as_tfmas_comparison_of_the_model_with_itself(runs):
    again = runs["again"]
    names = {
        entry.key.model_name
        for record in tfma.load_metrics(again.record.evaluation_uri)
        for entry in record.metric_keys_and_values
    }
    assert names == {"candidate", "baseline"}
