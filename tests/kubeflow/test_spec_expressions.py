"""Trigger conditions and resolver queries of a compiled spec, evaluated as an orchestrator does."""

from __future__ import annotations

import pytest

from lightrank.kubeflow.spec_expressions import evaluate_condition, matches, resolve_filter
from lightrank.kubeflow.spec_file import SpecError
from lightrank.kubeflow.spec_store import ArtifactStore

#: The Vertex registry Pusher's condition as TFX 1.16 compiles it (blessed and new); the filesystem
#: Pusher's is `blessed == 1` alone (its executor skips a model already pushed).
PUSHER = (
    "((inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['blessed'] == 1.0) && "
    "(inputs.artifacts['_Evaluator.blessing'].artifacts[0].metadata['differs_from_baseline'] == 1.0))"
)


def _inputs(**metadata: float) -> dict:
    return {
        "artifacts": {"_Evaluator.blessing": {"artifacts": [{"metadata": metadata}]}},
        "parameter_values": {},
    }


@pytest.mark.parametrize(
    ("blessed", "new", "expected"),
    [(1.0, 1.0, True), (0.0, 1.0, False), (1.0, 0.0, False), (0.0, 0.0, False)],
)
def test_the_pusher_condition(blessed, new, expected):
    assert evaluate_condition(PUSHER, _inputs(blessed=blessed, differs_from_baseline=new)) is expected


def test_or_not_comparisons_and_parameters():
    inputs = {"artifacts": {}, "parameter_values": {"steps": 40.0, "name": "a && b"}}
    assert evaluate_condition("inputs.parameter_values['steps'] > 10 || false", inputs)
    assert not evaluate_condition("!(inputs.parameter_values['steps'] >= 40)", inputs)
    assert evaluate_condition("inputs.parameter_values['name'] == 'a && b'", inputs)  # literal untouched
    assert evaluate_condition("inputs.parameter_values['steps'] != 1 && true", inputs)


def test_a_missing_input_or_an_unsupported_form_is_an_error_not_false():
    with pytest.raises(SpecError, match="KeyError"):
        evaluate_condition(PUSHER, _inputs(blessed=1.0))
    with pytest.raises(SpecError, match="unsupported Call"):
        evaluate_condition("inputs.parameter_values['x'].startswith('a')", {"parameter_values": {"x": "a"}})
    with pytest.raises(SpecError, match="cannot be parsed"):
        evaluate_condition("inputs.artifacts[", {})


def test_resolver_queries_match_vertex_semantics(tmp_path):
    store = ArtifactStore(str(tmp_path))
    blessing = {"schema_title": "tfx.ModelBlessing", "name": "run1/Evaluator/blessing", "uri": "u1",
                "metadata": {"blessed": 1.0, "current_model_id": "run1/Trainer/model"}}  # fmt: skip
    store.add([
        {"schema_title": "tfx.Model", "name": "run1/Trainer/model", "uri": "m1", "metadata": {}},
        blessing,
        {"schema_title": "tfx.ModelBlessing", "name": "run2/Evaluator/blessing", "uri": "u2",
         "metadata": {"blessed": 0.0, "current_model_id": "run2/Trainer/model"}},
    ])  # fmt: skip
    blessed = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
    assert store.latest(blessed) == blessing  # the unblessed newer one does not match
    placeholder = "{{$.inputs.artifacts['input'].metadata['current_model_id']}}"
    model = f'schema_title="tfx.Model" AND state=LIVE AND name="{placeholder}"'
    filled = resolve_filter(model, {"input": [blessing]})
    assert filled.endswith('name="run1/Trainer/model"')
    assert store.latest(filled)["uri"] == "m1"
    assert resolve_filter(model, {"input": []}) is None  # a first run: nothing to look up
    with pytest.raises(SpecError, match="unsupported clause"):
        matches("create_time>1", blessing)


def test_the_store_ignores_a_line_a_killed_run_left_half_written(tmp_path):
    store = ArtifactStore(str(tmp_path))
    store.add([{"schema_title": "tfx.Model", "name": "a", "uri": "x", "metadata": {}}])
    with open(store.path, "a") as f:
        f.write('{"schema_title": "tfx.Mo')
    assert [record["name"] for record in store.records()] == ["a"]
