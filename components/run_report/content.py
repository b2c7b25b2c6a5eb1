"""What a run report shows, gathered once from the run's artifacts.

`ReportContent` is filled from artifact directories alone (`collect`), so the
command line (which finds the artifacts through ML Metadata) and the pipeline's
RunReport component (which is handed them) produce the same report; only the
lineage graph and the run's own record differ in where they come from.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from lightrank.components.model_evaluation import metrics_by_slice
from lightrank.components.run_report import artifacts
from lightrank.components.run_report.svg import GraphNode
from lightrank.errors import shorten

#: The roles whose files a report reads (the others are only listed).
READ_ROLES = ("statistics", "anomalies", "model", "model_run", "evaluation")


@dataclasses.dataclass(frozen=True)
class ArtifactRef:
    """An artifact the report was built from."""

    role: str
    id: int | None
    type: str
    uri: str


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """The run and model as ML Metadata (or the component's inputs) record them."""

    pipeline_name: str
    run_id: str | None
    status: str | None = None
    started: datetime.datetime | None = None
    ended: datetime.datetime | None = None
    blessed: bool | None = None
    pushed_destination: str | None = None
    pushed_at: datetime.datetime | None = None
    config_digest: str | None = None
    code_version: str | None = None
    config: dict[str, Any] | None = None
    source: str = ""


@dataclasses.dataclass(frozen=True)
class ReportContent:
    """Everything the HTML report renders (see `lightrank.components.run_report.html`).

    `notes` maps a role whose artifact could not be read (deleted, or a bucket
    without access) to a sentence saying so; its section says that instead of
    looking empty.
    """

    run: RunFacts
    generated: datetime.datetime
    artifacts: tuple[ArtifactRef, ...]
    data: artifacts.DataSummary | None
    anomalies: tuple[str, ...] | None
    training: dict[str, Any] | None
    settings: dict[str, Any] | None
    metrics: dict[str, dict[str, float]]
    gates: tuple[artifacts.Gate, ...]
    calibration: tuple[tuple[float, float, float], ...]
    graph_nodes: tuple[GraphNode, ...]
    graph_edges: tuple[tuple[str, str], ...]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)

    def artifact(self, role: str) -> ArtifactRef | None:
        """The artifact of a role (`examples`, `model`, `evaluation`, ...), if known."""
        return next((a for a in self.artifacts if a.role == role), None)

    @property
    def overall(self) -> dict[str, float]:
        """The candidate model's metrics on the whole evaluation split."""
        return self.metrics.get("Overall", {})


def collect(
    run: RunFacts,
    refs: list[ArtifactRef],
    graph_nodes: list[GraphNode],
    graph_edges: list[tuple[str, str]],
) -> ReportContent:
    """Reads every artifact a report needs; a role not recorded leaves its section empty.

    A recorded artifact whose files are missing or unreadable is not read: it
    gets a note (`ReportContent.notes`) and the rest of the report is still made.

    Args:
        run: The run's record.
        refs: The artifacts by role: `statistics`, `anomalies`, `model`,
            `model_run`, `evaluation` are read; the others are only listed.
        graph_nodes: Nodes of the lineage graph to draw.
        graph_edges: Its edges, as (source key, target key).
    """
    notes = {
        ref.role: note
        for ref in refs
        if ref.role in READ_ROLES and (note := artifacts.unreadable(ref.role, ref.id, ref.uri))
    }
    uris: Mapping[str, str] = {ref.role: ref.uri for ref in refs if ref.role not in notes}
    metrics = metrics_by_slice(uris["evaluation"]) if "evaluation" in uris else {}
    # Slice names are data values: a huge one must not fill the report (nor collide when cut).
    metrics = {shorten(name, 200): values for name, values in metrics.items()}
    overall = metrics.get("Overall", {})
    return ReportContent(
        run=run,
        generated=datetime.datetime.now(tz=datetime.timezone.utc),
        artifacts=tuple(refs),
        data=artifacts.data_summary(uris["statistics"]) if "statistics" in uris else None,
        anomalies=tuple(artifacts.anomaly_lines(uris["anomalies"])) if "anomalies" in uris else None,
        training=artifacts.training_summary(uris["model_run"]) if "model_run" in uris else None,
        settings=artifacts.model_settings(uris["model"]) if "model" in uris else None,
        metrics=metrics,
        gates=tuple(artifacts.gates(uris["evaluation"], overall)) if "evaluation" in uris else (),
        calibration=tuple(artifacts.calibration_bins(uris["evaluation"])) if "evaluation" in uris else (),
        graph_nodes=tuple(graph_nodes),
        graph_edges=tuple(graph_edges),
        notes=notes,
    )
