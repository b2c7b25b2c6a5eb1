"""The anomaly gate: passes clean data, stops with a readable list otherwise."""

from __future__ import annotations

import json
import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import artifact_utils, standard_artifacts

from lightrank.components.anomaly_gate import ANOMALIES_FILE, AnomalyGate, DataAnomaliesError


def _artifact(tmp_path, per_split: dict[str, anomalies_pb2.Anomalies]) -> standard_artifacts.ExampleAnomalies:
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = artifact_utils.encode_split_names(list(per_split))
    for split, anomalies in per_split.items():
        directory = os.path.join(str(tmp_path), f"Split-{split}")
        os.makedirs(directory)
        with open(os.path.join(directory, ANOMALIES_FILE), "wb") as f:
            f.write(anomalies.SerializeToString())
    return artifact


def _type_anomaly() -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["'user.age'"]  # TFDV quotes feature paths
    info.short_description = "Unexpected data type"
    info.reason.add(description="Expected data of type: FLOAT but got BYTES")
    return anomalies


def test_clean_splits_pass(tmp_path):
    artifact = _artifact(tmp_path, {"train": anomalies_pb2.Anomalies(), "eval": anomalies_pb2.Anomalies()})
    AnomalyGate.test_call(anomalies=artifact)


def test_an_anomaly_stops_the_run_naming_split_feature_and_reason(tmp_path):
    artifact = _artifact(tmp_path, {"train": anomalies_pb2.Anomalies(), "eval": _type_anomaly()})
    with pytest.raises(DataAnomaliesError) as caught:
        AnomalyGate.test_call(anomalies=artifact)
    message = str(caught.value)
    assert "1 schema anomaly" in message
    assert (
        "eval: feature 'user.age': Unexpected data type (Expected data of type: FLOAT but got BYTES)"
        in message
    )
    assert "train:" not in message


def test_dataset_level_anomalies_count_too(tmp_path):
    anomalies = anomalies_pb2.Anomalies()
    anomalies.dataset_anomaly_info.short_description = "Low num examples"
    anomalies.dataset_anomaly_info.description = "only 3 examples"
    with pytest.raises(DataAnomaliesError, match="train: dataset: Low num examples"):
        AnomalyGate.test_call(anomalies=_artifact(tmp_path, {"train": anomalies}))


def test_the_gate_records_the_runs_config_digest_and_code_version(tmp_path, monkeypatch):
    """`create_pipeline` hands the gate the run's settings; TFX records them before the gate runs."""
    from lightrank.components.run_settings import CODE_VERSION_ENV
    from lightrank.pipeline.config import SAMPLE_CONFIG, load_config
    from lightrank.pipeline.pipeline import create_pipeline

    monkeypatch.setenv(CODE_VERSION_ENV, "image-7")
    config = load_config(SAMPLE_CONFIG, ["model.training.learning_rate=0.02"])
    (gate,) = [c for c in create_pipeline(config).components if c.id == "AnomalyGate"]
    recorded = gate.exec_properties
    assert (recorded["config_digest"], recorded["code_version"]) == (config.digest(), "image-7")
    assert json.loads(recorded["pipeline_config"]) == json.loads(json.dumps(config.model_dump(mode="json")))
    assert json.loads(recorded["pipeline_config"])["model"]["training"]["learning_rate"] == 0.02
    artifact = _artifact(tmp_path, {"train": anomalies_pb2.Anomalies()})
    AnomalyGate.test_call(anomalies=artifact, **recorded)  # the parameters do not change what it checks
