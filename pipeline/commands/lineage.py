"""The `runs`, `lineage`, `compare` and `report` sub-commands of `lightrank` (wired in by `lightrank.cli`).

    lightrank runs    [--config FILE] [--set KEY=VALUE ...] [--limit N] [--json]
    lightrank lineage [latest-pushed | MODEL_PATH | ARTIFACT_ID] [--downstream ARTIFACT] [--json | --dot]
    lightrank compare RUN_A RUN_B [--json]
    lightrank report  [RUN] [--out FILE]

All four read the ML Metadata store the config names (SQLite or MySQL) and
never write to it: SQLite is opened read-only, and a missing file is reported,
not created. A run is named by its id, a unique prefix of it, `latest` or
`previous`. User-fixable problems (a missing or empty store, an unknown run, an
artifact that is not a model) raise `lightrank.pipeline.metadata.lineage.LineageError` (or
`FileNotFoundError` / `ConfigError`), which the CLI prints as one line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from lightrank.models.paths import is_remote
from lightrank.pipeline.commands.common import add_config_arguments, quiet_tensorflow


def _open(args: argparse.Namespace, limit: int = 0) -> tuple[Any, Any, list[Any]]:
    """The config, the read-only store, and the pipeline's runs, newest first (at least one).

    Args:
        args: The parsed command line.
        limit: Read only the newest `limit` runs (when > 0).
    """
    from lightrank.pipeline.config import load_config
    from lightrank.pipeline.metadata.lineage import open_read_only, require_runs, store_name

    config = load_config(args.config, args.set)
    store = open_read_only(config.metadata)
    return config, store, require_runs(store, config.name, store_name(config.metadata), limit)


def _runs(args: argparse.Namespace) -> int:
    from lightrank.pipeline.views.runs import run_json, runs_table

    _, _, runs = _open(args, args.limit)
    print(json.dumps([run_json(r) for r in runs], indent=2) if args.json else runs_table(runs))
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from lightrank.pipeline.metadata.lineage import find_artifact, resolve_model
    from lightrank.pipeline.metadata.trace import trace_downstream, trace_model
    from lightrank.pipeline.views.graph import artifact_json, downstream_table, graph_dot, graph_json

    config, store, _ = _open(args)
    if args.downstream:
        artifact = find_artifact(store, args.downstream)
        graph = trace_downstream(store, artifact)
        if args.dot:
            print(graph_dot(graph, f"used {artifact.type} {artifact.id}"))
        elif args.json:
            print(json.dumps({"artifact": artifact_json(artifact), "graph": graph_json(graph)}, indent=2))
        else:
            print(downstream_table(artifact, graph))
        return 0
    trace = trace_model(store, resolve_model(store, config.name, args.target))
    if args.dot:
        print(graph_dot(trace.graph, f"lineage of model {trace.model.id}"))
        return 0
    with quiet_tensorflow("tensorflow_model_analysis"):
        from lightrank.pipeline.views.lineage import describe_trace, lineage_table

        described = describe_trace(trace)
    status = _run_status(store, config.name, trace.run_id)
    described["model"]["run_status"] = status
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        print(_with_run_status(lineage_table(described), trace.run_id, status))
    return 0


def _run_status(store: Any, pipeline_name: str, run_id: str | None) -> str | None:
    """How the run that trained the model ended (`complete`, `cancelled`, `abandoned`, ...), or None.

    A model can come from a run that was cancelled or failed after its Trainer: the lineage
    says so, as `runs` and the report do (docs/reliability.md, Concurrent and interrupted runs).
    """
    from lightrank.pipeline.metadata.runs import run_by_id

    run = run_by_id(store, pipeline_name, run_id) if run_id else None
    return run.status if run is not None else None


def _with_run_status(table: str, run_id: str | None, status: str | None) -> str:
    """The lineage table with the training run's status after its id (`trained in run X (cancelled)`)."""
    if status is None:
        return table
    line = f"  trained in run {run_id}\n"
    if line in table:
        return table.replace(line, f"  trained in run {run_id} ({status})\n", 1)
    return f"{table}\nThe run that trained the model: {run_id} ({status})"


def _compare(args: argparse.Namespace) -> int:
    from lightrank.pipeline.metadata.graph import run_graph
    from lightrank.pipeline.metadata.lineage import find_run

    _, store, runs = _open(args)
    chosen = [find_run(runs, args.run_a), find_run(runs, args.run_b)]
    with quiet_tensorflow("tensorflow_model_analysis"):
        from lightrank.components.model_evaluation import metrics_by_slice
        from lightrank.components.run_report.artifacts import unreadable
        from lightrank.pipeline.views.compare import (
            RunSide,
            compare_json,
            compare_table,
            run_config,
            trainer_settings,
        )

        sides = []
        for run in chosen:
            graph = run_graph(store, run.run_id)
            config, digest = run_config(graph)
            metrics, notes = {}, ()
            if run.evaluation_uri:
                note = unreadable("evaluation", run.evaluation_id, run.evaluation_uri)
                if note:
                    notes = (f"run {run.run_id}: {note}; its metrics are not shown",)
                else:
                    metrics = metrics_by_slice(run.evaluation_uri)
            sides.append(RunSide(run, metrics, config, digest, trainer_settings(graph), notes))
    compared = compare_json(*sides)
    print(json.dumps(compared, indent=2) if args.json else compare_table(compared))
    return 0


def default_report_path(root: str, run_id: str) -> str:
    """`<pipeline root>/reports/run-<run id>.html` (`./reports/...` for a gs:// root), safe as a file name."""
    directory = "reports" if is_remote(root) else os.path.join(root, "reports")
    return os.path.join(directory, f"run-{re.sub(r'[^A-Za-z0-9._-]', '_', run_id)}.html")


def _report(args: argparse.Namespace) -> int:
    from lightrank.pipeline.metadata.lineage import find_run, store_name

    config, store, runs = _open(args)
    run = find_run(runs, args.run)
    with quiet_tensorflow("tensorflow_model_analysis"):
        from lightrank.components.run_report.html import render_html
        from lightrank.pipeline.metadata.report_facts import content_for_run

        source = f"by `lightrank report` from {store_name(config.metadata)}"
        page = render_html(content_for_run(store, config.name, run, source))
    out = os.path.abspath(args.out or default_report_path(config.root, run.run_id))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(page)
    print(f"Report of run {run.run_id} ({run.status}): {out}")
    return 0


def _limit(text: str) -> int:
    """`--limit`: a whole number of runs, 0 for all (argparse reports a bad one and exits 2)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of runs (0 or more)")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `runs`, `lineage`, `compare` and `report` to the `lightrank` sub-commands."""
    runs = commands.add_parser("runs", help="the pipeline's runs from ML Metadata, newest first")
    add_config_arguments(runs)
    runs.add_argument("--limit", type=_limit, default=0, help="show only the newest N runs (0: all)")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(handler=_runs)

    lineage = commands.add_parser(
        "lineage", help="where a model came from (data, checks, training, evaluation, push)"
    )
    add_config_arguments(lineage)
    lineage.add_argument(
        "target",
        nargs="?",
        default="latest-pushed",
        help="latest-pushed (default), a model, Format-Serving or pushed directory, or an artifact id",
    )
    lineage.add_argument(
        "--downstream", metavar="ARTIFACT", help="instead: what used this artifact (an id or a path)"
    )
    output = lineage.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument("--dot", action="store_true", help="print the lineage graph as Graphviz DOT")
    lineage.set_defaults(handler=_lineage)

    compare = commands.add_parser(
        "compare", help="two runs' metrics side by side and their config difference"
    )
    add_config_arguments(compare)
    compare.add_argument("run_a", metavar="RUN_A", help="a run id, a unique prefix, latest or previous")
    compare.add_argument("run_b", metavar="RUN_B", help="the run to compare with RUN_A")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(handler=_compare)

    report = commands.add_parser("report", help="a self-contained HTML report of a run")
    add_config_arguments(report)
    report.add_argument("run", nargs="?", default="latest", metavar="RUN", help="the run (default: latest)")
    report.add_argument(
        "--out", default=None, help="the HTML file (default: <root>/reports/run-<run id>.html)"
    )
    report.set_defaults(handler=_report)
