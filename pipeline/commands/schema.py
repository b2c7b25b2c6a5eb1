"""`lightrank schema infer`: a starting schema, feature spec and config from a team's own data.

    lightrank schema infer --data GLOB [--data GLOB ...] --out DIR [--request-key NAME]
                           [--label NAME ...] [--weight NAME] [--heavy-score NAME]
                           [--name PIPELINE_NAME] [--overwrite]

The work is in `lightrank.pipeline.schema_infer`; this module parses the command line, checks
what can be checked before reading any data (the output directory, the pipeline name, the
files), and prints the summary (docs/configuration.md, "Starting a schema: lightrank schema
infer").
"""

from __future__ import annotations

import argparse
import datetime

from lightrank.errors import UserError


def _infer(args: argparse.Namespace) -> int:
    from lightrank.pipeline.commands.common import quiet_tensorflow
    from lightrank.pipeline.console import quiet_stderr
    from lightrank.pipeline.schema_infer import writer
    from lightrank.pipeline.schema_infer.sources import resolve_sources

    writer.check_out_dir(args.out, args.overwrite)
    name = writer.pipeline_name(args.out, args.name)
    sources = resolve_sources(args.data)
    failure: UserError | None = None
    # TensorFlow's C++ warnings while reading records are noise here; a user error is one line,
    # and any other failure is shown with them (quiet_stderr writes them out then).
    with quiet_tensorflow("tensorflow_data_validation"), quiet_stderr():
        from lightrank.pipeline.schema_infer.roles import choose_roles
        from lightrank.pipeline.schema_infer.schema import build_schema, render_schema, validate
        from lightrank.pipeline.schema_infer.statistics import compute_statistics
        from lightrank.pipeline.schema_infer.summary import FILES, format_summary, header

        try:
            stats = compute_statistics(sources)
            roles = choose_roles(stats, args.request_key, args.label, args.weight, args.heavy_score)
            schema = build_schema(stats, roles)
            anomalies = validate(stats, schema)
        except UserError as error:
            failure = error
    if failure is not None:
        raise failure
    domains = {f.name: len(f.string_domain.value) for f in schema.feature if f.HasField("string_domain")}
    categorical = [n for n in domains if stats.features[n].scalar and n not in roles.reserved]
    slice_hint = min(categorical, key=lambda n: (domains[n] < 2, domains[n], n), default=None)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = header(sources, stats, when)
    texts = [
        render_schema(schema, stats, roles, [*lines, "tensorflow_metadata Schema, text format."]),
        writer.feature_spec_text(stats, roles, lines),
        writer.config_text(sources, args.out, name, roles, slice_hint, lines),
    ]
    writer.publish(args.out, dict(zip(FILES, texts, strict=True)), args.overwrite)
    print(format_summary(sources, args.out, stats, roles, domains, anomalies))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `schema infer` to the `lightrank` sub-commands."""
    schema = commands.add_parser("schema", help="schemas of your own data")
    infer = schema.add_subparsers(dest="schema_command", required=True).add_parser(
        "infer", help="infer a schema, feature spec and pipeline config from TFRecord files of tf.Example"
    )
    infer.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[SPLIT=]GLOB",
        help="directory or glob of (gzipped) TFRecord files; or train=GLOB and eval=GLOB for named splits",
    )
    infer.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="directory for schema.pbtxt, feature_spec.yaml, config.yaml",
    )
    for flag, what in (
        ("--request-key", "the request (group) key"),
        ("--label", "a label in [0, 1], repeatable; the first is config.yaml's task"),
        ("--weight", "the example weight: the heavy ranker's rank position"),
        ("--heavy-score", "the heavy ranker's score"),
    ):
        repeated = flag == "--label"
        infer.add_argument(
            flag,
            action="append" if repeated else "store",
            default=[] if repeated else None,
            metavar="NAME",
            help=f"{what} (default: guessed from names and statistics)",
        )
    infer.add_argument(
        "--name", default=None, help="pipeline name (default: from the --out directory's name)"
    )
    infer.add_argument(
        "--overwrite", action="store_true", help="replace a non-empty --out directory, atomically"
    )
    infer.set_defaults(handler=_infer)
