"""`lightrank data generate`: write the embedded synthetic notification candidates.

lightrank data generate [--out DIR] [--requests N] [--seed S] [--shards K] [--overwrite | --if-missing]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lightrank.pipeline.commands.common import count

#: Where `make run` and the sample config expect the sample data.
SAMPLE_DATA_DIR = "data/sample"


def _generate(args: argparse.Namespace) -> int:
    from lightrank.pipeline.console import quiet_stderr

    with quiet_stderr():
        from lightrank.pipeline.sample import DEFAULT_REQUESTS, write_sample_data

    out = Path(args.out)
    if args.if_missing and out.is_dir() and any(out.iterdir()):
        print(f"Sample data already present in {out} (use --overwrite to regenerate).")
        return 0
    requests = DEFAULT_REQUESTS if args.requests is None else args.requests
    # Request r goes to shard r % shards: with fewer requests than shards the rest would be
    # empty files, which the pipeline's preflight refuses. Fewer files keep every output valid.
    shards = min(args.shards, requests)
    if shards < args.shards:
        print(
            f"Writing {shards} file{'s' if shards != 1 else ''}, not {args.shards}: one per request at most."
        )
    summary = write_sample_data(
        str(out), requests=requests, seed=args.seed, shards=shards, overwrite=args.overwrite
    )
    print(
        f"Wrote {summary.candidates:,} candidates of {summary.requests:,} requests to {summary.out_dir} "
        f"({len(summary.files)} files) in {summary.seconds:.1f} s."
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `data generate` to the `lightrank` sub-commands."""
    data = commands.add_parser("data", help="sample data").add_subparsers(dest="data_command", required=True)
    generate = data.add_parser("generate", help="write the embedded synthetic notification candidates")
    generate.add_argument("--out", default=SAMPLE_DATA_DIR, help="output directory (default: %(default)s)")
    generate.add_argument(
        "--requests",
        type=count(1),
        default=None,
        help="number of requests, at least 1 (default: the sample size)",
    )
    generate.add_argument("--seed", type=count(0), default=0, help="random seed (default: %(default)s)")
    generate.add_argument(
        "--shards",
        type=count(1),
        default=4,
        help="output files, at most one per request (default: %(default)s)",
    )
    generate.add_argument("--overwrite", action="store_true", help="replace existing data (atomically)")
    generate.add_argument("--if-missing", action="store_true", help="do nothing if the directory has data")
    generate.set_defaults(handler=_generate)
