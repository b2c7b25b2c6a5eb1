"""`lightrank schema infer` on the embedded sample data: it finds what the curated files say.

The sample's schema and feature spec were written by hand (schema/sample/); inferring them
from the data must guess the same roles and select the same model inputs, and tighten the
source-dependent features as the curated schema does.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from lightrank.cli import main
from lightrank.models.features import resolve_files

SAMPLE = Path(__file__).resolve().parents[3] / "schema" / "sample"


def test_the_sample_data_gives_the_curated_roles_and_inputs(tiny_data: str, tmp_path: Path):
    out = tmp_path / "sample"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["schema", "infer", "--data", tiny_data, "--out", str(out)]) == 0
    summary = stdout.getvalue()
    assert "request key: meta.trace_id (INT" in summary and "guessed: name contains 'trace')" in summary
    assert "weight: meta.weight (FLOAT in [0, " in summary
    assert "heavy score: meta.ranking.weighted_oonc_model_score (" in summary
    assert (
        "guessed: name contains 'score' and 'ranking'; also possible: candidate.real_graph_score" in summary
    )
    inferred = resolve_files(out / "schema.pbtxt", out / "feature_spec.yaml")
    curated = resolve_files(SAMPLE / "schema.pbtxt", SAMPLE / "feature_spec.yaml")
    assert (inferred.continuous, inferred.sparse, inferred.int_sparse) == (
        curated.continuous,
        curated.sparse,
        curated.int_sparse,
    )
    assert (inferred.request_key, inferred.example_weight, inferred.heavy_score) == (
        curated.request_key,
        curated.example_weight,
        curated.heavy_score,
    )
    assert dict(inferred.labels) == {
        "label_sent": "label.sent",
        "meta_ranking_is_top3": "meta.ranking.is_top3",
    }
    schema = text_format.Parse((out / "schema.pbtxt").read_text(), schema_pb2.Schema())
    features = {feature.name: feature for feature in schema.feature}
    topics = features["candidate.topic_ids"]  # the curated schema: 1-4 values, min_fraction 0.25
    assert (topics.value_count.min, topics.value_count.max, topics.presence.min_fraction) == (1, 4, 0.25)
    assert not features["meta.trace_id"].HasField("int_domain")  # 64-bit ids: the sign is chance
    assert features["label.sent"].int_domain.max == 1
    assert list(features["meta.weight"].not_in_environment) == ["SERVING"]
    assert features["meta.weight"].float_domain.disallow_nan
