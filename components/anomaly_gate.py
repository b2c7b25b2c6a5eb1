"""A gate that stops the run when ExampleValidator found anomalies.

TFX's ExampleValidator only *records* anomalies; no standard component consumes
them, so a pipeline happily trains on data that broke its schema
(tensorflow/tfx-addons#153). This component reads the anomalies of every split
and fails the run with one readable list naming each split, feature and problem.
Transform is ordered after it, so nothing downstream (and no push) happens.

It also records what produced the run (`lightrank.components.run_settings`): TFX records
its parameters in ML Metadata before it runs, so a run it stops, or one that
fails later in the Trainer or Evaluator, still names its config and code.
"""

# No `from __future__ import annotations`: TFX reads the component signature at runtime.

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from lightrank.errors import UserError, shorten

#: The file ExampleValidator writes per split (tfx/components/example_validator/executor.py).
ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(UserError):
    """The examples do not match the curated schema; the message lists every anomaly."""


def read_anomalies(artifact: standard_artifacts.ExampleAnomalies) -> dict[str, anomalies_pb2.Anomalies]:
    """Loads the anomalies proto of each split of an ExampleAnomalies artifact."""
    result = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        result[split] = anomalies
    return result


def describe_anomalies(per_split: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """One line per anomaly: `split: feature 'name': short description (details)`."""
    lines = []
    for split, anomalies in sorted(per_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            details = "; ".join(reason.description for reason in info.reason if reason.description)
            details = details or info.description
            name = feature.strip("'")  # TFDV keys anomalies by quoted feature path
            # Descriptions quote data values (a 10 MB string once made a 10 MB error and log line).
            lines.append(
                f"{split}: feature '{shorten(name, 100)}': {info.short_description} ({shorten(details)})"
            )
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"{split}: dataset: {info.short_description} ({shorten(info.description)})")
    return lines


@tfx.dsl.components.component
def AnomalyGate(  # noqa: N802  (TFX component names are classes by convention)
    anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    pipeline_config: tfx.dsl.components.Parameter[str] = "",
    config_digest: tfx.dsl.components.Parameter[str] = "",
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Fails the run if any split has schema anomalies.

    The three parameters are not used here: they are recorded as execution
    properties, where `lightrank compare` and `lightrank lineage` read them
    (`lightrank.components.run_settings.run_settings` gives them).

    Args:
        anomalies: ExampleValidator's output.
        pipeline_config: The full pipeline config as JSON.
        config_digest: `PipelineConfig.digest()`.
        code_version: The code version when the pipeline was built.

    Raises:
        DataAnomaliesError: With every anomaly, so a person can fix the data or
            the schema without opening the artifact.
    """
    lines = describe_anomalies(read_anomalies(anomalies))
    if lines:
        raise DataAnomaliesError(
            f"{len(lines)} schema anomal{'y' if len(lines) == 1 else 'ies'} in the examples; "
            "the run stops before Transform and nothing is trained or pushed:\n  - " + "\n  - ".join(lines)
        )
