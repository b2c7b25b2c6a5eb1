"""Trains the DeepNorm presets and the logistic baseline on the same splits; prints a table.

    .venv/bin/python scripts/compare_presets.py [--root DIR] [--data DIR]

Each model is a `lightrank run` of the sample pipeline into one pipeline root, so the data
components run once and every model sees the identical train/eval split (the later runs take
ExampleGen, statistics and Transform from the cache). Quality is read from the Evaluator's
TFMA output (eval split, overall); training time is the Trainer component's wall time in ML
Metadata. Writes the Markdown table to stdout (BENCHMARKS.md, "DeepNorm presets").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

RUNS = (
    ("DeepNorm, `default` preset", ["model.preset=default"]),
    ("DeepNorm, `original` preset", ["model.preset=original"]),
    ("logistic regression", ["model.kind=logistic"]),
)
COLUMNS = (
    ("eval RCE", "rce_unweighted", "{:.2f}"),
    ("eval AUC", "auc_unweighted", "{:.4f}"),
    ("heavy top-3 in light top-100", "recall_atLight_100_atHeavy_3", "{:.4f}"),
    ("heavy top-10 in light top-100", "recall_atLight_100_atHeavy_10", "{:.4f}"),
    ("pred. ctr / ctr", None, None),
)


def main() -> int:
    """Runs the three models and prints the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="runs/presets", help="work directory (default: %(default)s)")
    parser.add_argument("--data", default="data/sample", help="candidates (default: %(default)s)")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    common = [
        f"root={root}/pipeline",
        f"serving_dir={root}/serving",
        f"metadata.sqlite={root}/metadata.db",
        f"data.path={os.path.abspath(args.data)}",
        "evaluation.compare_to_baseline=false",  # every model is judged on its own
    ]
    lightrank = os.path.join(os.path.dirname(sys.executable), "lightrank")
    from pipeline.config import load_config
    from pipeline.runs import latest_run, open_store
    from pipeline.summary import metrics_by_slice

    rows = []
    for label, overrides in RUNS:
        sets = [arg for item in (*common, *overrides) for arg in ("--set", item)]
        print(f"== {label}", file=sys.stderr, flush=True)
        subprocess.run([lightrank, "run", *sets], check=True, stdout=sys.stderr)
        config = load_config("pipeline/configs/sample.yaml", [*common, *overrides])
        record = latest_run(open_store(config.metadata), config.name)
        overall = metrics_by_slice(record.evaluation_uri)["Overall"]
        trainer = next(c for c in record.components if c.component == "Trainer")
        with open(
            os.path.join(record.model_uri.replace("/model/", "/model_run/"), "training_summary.json")
        ) as f:
            summary = json.load(f)
        rows.append((label, overall, trainer.seconds, summary))

    header = [c[0] for c in COLUMNS] + ["steps (stop)", "Trainer wall time"]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; data: {args.data}\n")
    print("| model | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header))
    for label, overall, seconds, summary in rows:
        cells = []
        for _, key, fmt in COLUMNS:
            if key is None:
                ratio = overall["predicted_ctr_unweighted"] / overall["ctr_unweighted"]
                cells.append(f"{ratio:.2f}")
            else:
                cells.append(fmt.format(overall[key]))
        cells.append(f"{summary['steps']} ({summary['stop_reason']}, best at {summary['best_step']})")
        cells.append(f"{seconds:.0f} s")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
