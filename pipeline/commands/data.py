"""`lightrank data generate`: write the embedded synthetic data sets.

lightrank data generate [--profile sample|catalog] [--out DIR] [--requests N] [--seed S] [--shards K]
                        [--overwrite | --if-missing]

`sample` (the default) is the push-notification candidates that `make run` and the sample config
read; `catalog` is a second, differently shaped data set, split into `train/` and `eval/` by
time, for the "bring your own data" docs (docs/sample_data.md, The catalog dataset).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lightrank.errors import UserError
from lightrank.pipeline.commands.common import count

#: Where `make run` and the sample config expect the sample data.
SAMPLE_DATA_DIR = "data/sample"
#: Where the "bring your own data" docs expect the catalog data set.
CATALOG_DATA_DIR = "data/catalog"
PROFILES = ("sample", "catalog")
_DEFAULT_DIRS = {"sample": SAMPLE_DATA_DIR, "catalog": CATALOG_DATA_DIR}


def _generate(args: argparse.Namespace) -> int:
    out = Path(args.out or _DEFAULT_DIRS[args.profile])
    if args.profile == "catalog":
        return _generate_catalog(args, out)
    from lightrank.pipeline.console import quiet_stderr

    with quiet_stderr():
        from lightrank.pipeline.sample import DEFAULT_REQUESTS, write_sample_data

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


def _generate_catalog(args: argparse.Namespace, out: Path) -> int:
    """The catalog profile: `train/` and `eval/` under `out`, each with at most `--shards` files."""
    from lightrank.pipeline.console import quiet_stderr

    with quiet_stderr():
        from lightrank.pipeline.sample.catalog_writer import DEFAULT_CATALOG_REQUESTS, write_catalog_data

    if args.if_missing and out.is_dir() and any(out.iterdir()):
        print(f"Catalog data already present in {out} (use --overwrite to regenerate).")
        return 0
    requests = DEFAULT_CATALOG_REQUESTS if args.requests is None else args.requests
    if requests < 2:
        raise UserError(f"--profile catalog needs --requests of at least 2 (one per split), got {requests}")
    summary = write_catalog_data(
        str(out), requests=requests, seed=args.seed, shards=args.shards, overwrite=args.overwrite
    )
    # Each split is sharded on its own and gets one file per request at most (no empty files).
    splits = []
    for name, split in (("train", summary.train), ("eval", summary.eval)):
        files = f"{len(split.files)} file{'s' if len(split.files) != 1 else ''}"
        splits.append(
            f"{name}: {split.candidates:,} candidates of {split.requests:,} requests in {files}, "
            f"click rate {split.click_rate:.1%}"
        )
    print(
        f"Wrote {summary.candidates:,} candidates of {summary.requests:,} requests to {summary.out_dir} "
        f"in {summary.seconds:.1f} s ({'; '.join(splits)})."
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Adds `data generate` to the `lightrank` sub-commands."""
    data = commands.add_parser("data", help="sample data").add_subparsers(dest="data_command", required=True)
    generate = data.add_parser(
        "generate", help="write an embedded synthetic data set (the notification candidates or the catalog)"
    )
    generate.add_argument(
        "--profile",
        choices=PROFILES,
        default="sample",
        help="sample: the notification candidates; catalog: a time-split data set with other feature "
        "names, for bringing your own data (default: %(default)s)",
    )
    generate.add_argument(
        "--out",
        default=None,
        help=f"output directory (default: {SAMPLE_DATA_DIR}, or {CATALOG_DATA_DIR} for --profile catalog)",
    )
    generate.add_argument(
        "--requests",
        type=count(1),
        default=None,
        help="number of requests, at least 1, at least 2 for catalog (default: the profile's size)",
    )
    generate.add_argument("--seed", type=count(0), default=0, help="random seed (default: %(default)s)")
    generate.add_argument(
        "--shards",
        type=count(1),
        default=4,
        help="output files (per split for catalog), at most one per request (default: %(default)s)",
    )
    generate.add_argument("--overwrite", action="store_true", help="replace existing data (atomically)")
    generate.add_argument("--if-missing", action="store_true", help="do nothing if the directory has data")
    generate.set_defaults(handler=_generate)
