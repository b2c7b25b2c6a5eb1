"""Assembles `BENCHMARKS.md` from the tables the `lightrank-bench` commands wrote (`make bench`).

Each benchmark appends its own Markdown table (with machine, packages and exact command) to
a part file; this module puts the parts in a fixed order under one heading each, with a short
paragraph on how to read the table, and writes the document atomically. Nothing in the file is
typed by hand, so every number in it was measured by the run that wrote it; the history of
the speed work (before and after of each change) lives in `docs/performance.md`.

Usage: `python -m lightrank_bench.document --parts-dir build/bench --out BENCHMARKS.md`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Sequence

#: Part file stem -> (section heading, how to read it). The order is the document's.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "serving",
        "Serving throughput",
        "The exported model's `serving_default` on serialized candidates (the TF Serving request "
        "layout), each thread setting in a fresh process. *Parse alone* is `tf.io.parse_example` with "
        "the model's own spec; *Transform + model* is what is left once parsing is taken out. The "
        "FLOP ceiling is the model's counted FLOPs per candidate against a matrix multiply timed in "
        "the same process: the most candidates per second the arithmetic allows.",
    ),
    (
        "comparators",
        "Against LightGBM and ONNX Runtime, same candidates",
        "Every system scores the same candidates at the same request sizes and thread settings. "
        "LightGBM (200 trees of 31 leaves) is trained on the first candidates' continuous features "
        "with the model's label; ONNX Runtime runs the model converted by tf2onnx (its predictions "
        "are checked against TensorFlow's). *End to end* rows start from serialized candidates.",
    ),
    (
        "training",
        "Training throughput",
        "The real training loop (`lightrank.models.training.loop.train`) on the Transform output of the "
        "sample run, steady state after a warm-up: the config's `default` preset (Adagrad, missing "
        "sub-branch on), then the `original` preset (plain SGD, missing sub-branch off).",
    ),
    (
        "quality",
        "Quality on held-out requests",
        "Every model is trained on the same train split of the sample data at ten times its size (the "
        "pipeline run of the *about one million candidates* table below) and scored on the same eval "
        "split (held-out requests). The Keras models stop early on that eval split, as the Trainer "
        "does, which flatters them slightly. `lightgbm` is the fair comparator, the gradient-boosted "
        "trees a team would otherwise train: LightGBM on the raw features the model reads, from the "
        "same run's raw Examples (floats as they are, ids as native categorical features, "
        "multi-valued features multi-hot), stopping early on 10% of the train requests, never on eval. "
        "`lightgbm-continuous` is 200 trees on the Transform's continuous features alone, the "
        "comparator of the serving table. AUC here is exact (scikit-learn). The Evaluator's AUC "
        "is the original's (`tf.metrics.auc` with 200 evenly spaced thresholds), which "
        "lumps together the many predictions near the 1.3% base rate and reads lower (0.807 against "
        "an exact 0.820 for the same sample model and split when this was written). Under the table, "
        "`deepnorm-default` against every other model, paired over the same eval requests "
        "(`lightrank_bench.quality_paired`): the requests are resampled 1,000 times and both models "
        "scored on each resample, so only differences larger than the eval split's own noise read "
        "`ahead` or `behind`. On the sample run's 97 eval requests (the tables further down) most "
        "differences between good models are ties. This table and the catalog's are `--seeds 3`: "
        "every model trains three times with seeds differing by 1, each row is the mean (the last "
        "column has each seed's AUC / recall (10, 3)), and each bootstrap resample also redraws "
        "both models' seeds, so an interval holds the seed-to-seed spread as well.",
    ),
    (
        "quality-catalog",
        "Quality on the catalog data set",
        "The same table on the catalog data set ([docs/sample_data.md](docs/sample_data.md#the-catalog-"
        "dataset)) at 4,000 requests: `lightrank data generate --profile catalog --requests 4000` "
        "(split by time), the config `lightrank schema infer` writes for it (task `clicked`) and one "
        "pipeline run of that config, as `make bench` runs them. Most of its signal is in the "
        "high-cardinality `viewer_id` and `item_id`, and its eval split is later in time with a 1.5x "
        "higher click rate, which costs every model RCE (NRCE, beside it, rescales the predictions to "
        "the split's rate); the Keras models pick their stopping step on that eval split. Requests "
        "of at most 120 candidates saturate recall at 100.",
    ),
    (
        "presets",
        "DeepNorm settings: the default preset against one change at a time",
        "The evidence for the `default` preset (models/deepnorm/config.py): the quality table's "
        "metrics on the sample run's split (430 requests, 97 of them in eval), the default preset "
        "first, then the default with one setting "
        "changed per row (optimiser, learning rate, batch size, missing sub-branch, momentum, step "
        "budget), and the `original` preset. Training is seeded and gave the same numbers again on "
        "the same Transform output; on another pipeline run's Transform output of the same data the "
        "same settings moved by up to 1.4 RCE: read smaller differences as noise. Training times "
        "are noisy too: the same training took 41.0 s as the process's first model and 21.2 s later "
        "(the `6000 steps` row stops early exactly where the default does). The second table sets "
        "the default's early stopping on NRCE against stopping on RCE, three seeds each "
        "(`--seeds 3`, as the quality tables): the two pick the same step unless a seed's mean "
        "prediction drifts off the eval rate ([docs/model.md](docs/model.md#early-stopping)).",
    ),
    (
        "ids-sample",
        "Ids, sample data: one change at a time from the default preset",
        "The evidence for the `default` preset's use of its ids ([docs/model.md](docs/model.md#ids)): "
        "the quality table's metrics on the sample run's split (97 eval requests), each Keras row the "
        "`default` preset with one change "
        "(the label says which), `one_bag preset` the default before the ids were used feature by "
        "feature, `deepnorm-original` the original's graph, and the fair `lightgbm` and `logistic` "
        "trained on the same train split. *recall (10, 3)* is the share of the heavy ranker's top 3 "
        "of a request that the model puts in its own top 10. *kFLOP* is the counted work per "
        "candidate and *candidates/s* the exported model's `serving_default` on serialized "
        "candidates at batch 1,000 on one thread, each model timed in a fresh process: read "
        "differences under about 10% as noise. The sample's feature spec names the two sides of "
        "the FM term (`sides`), so `default` multiplies user x candidate pairs.",
    ),
    (
        "ids-catalog",
        "Ids, catalog data set: one change at a time from the default preset",
        "The same on the catalog data set at its default size (240 requests, 48 in eval), whose "
        "signal is mostly in `viewer_id` and `item_id`. The "
        "feature spec `schema infer` writes names no sides, so `default`'s FM term covers all pairs "
        "there; the user x candidate form is a row.",
    ),
    (
        "tuning",
        "The Tuner: tuned and untuned default, sample data",
        "A second pipeline run on `make bench`'s sample root with a `tuning` section (its data "
        "steps from the cache; the search and its budget are in the Makefile), then the quality "
        "table's models and `tuned default`: the `default` preset with the Tuner's best "
        "hyperparameters (`--tuned`). The search selects on the same eval split the table scores, "
        "which flatters the tuned row a little.",
    ),
    (
        "tuning-catalog",
        "The Tuner: tuned and untuned default, catalog data set",
        "The same search on the catalog run at its default size (240 requests).",
    ),
    (
        "pipeline-sample",
        "Pipeline on the sample data",
        "The whole pipeline, cache off, from an empty root: wall time per component from ML "
        "Metadata and peak resident memory of the process while the component ran (components run "
        "one after another in one process, so a peak includes what earlier ones left behind).",
    ),
    (
        "pipeline-large",
        "Pipeline on about one million candidates",
        "The same, on ten times the sample (4,300 requests).",
    ),
    (
        "evaluation",
        "Evaluation speed",
        "The pipeline's Evaluator on the sample and on about one million candidates, read back from "
        "the ML Metadata of the two pipeline runs above (wall time as in their tables; candidates: the "
        "records of the eval split it read; the Tuner's later run on the sample store is skipped, since "
        "its Evaluator also scored a baseline model), and `lightrank eval` with the sample model and "
        "the sample config's metrics and slices on the large run's data, the whole call timed. Each "
        "stands beside plain serving: the same model's `serving_default` at batch 1,000 on all cores, "
        "measured by the same command on the same machine. *vs serving* is a figure's candidates/s "
        "over plain serving's, the share of the model's own scoring speed that evaluating keeps: it "
        "moves less than the raw figures from one machine to another, so read it when comparing "
        "machines. The goals: the Evaluator at most 90 s on the large run and 10 s on the sample, "
        "`lightrank eval` at least 10,000 candidates/s on 2 cores.",
    ),
)


#: Part file stem -> what its table showed when this was written: printed under the table. These
#: are the only words here not regenerated, so each says when it was measured.
FINDINGS: dict[str, str] = {
    "evaluation": "**Findings (2026-12-07).** Before the Evaluator's request views (this day's "
    "00:28 and 00:56 runs of the same commands on this machine): the Evaluator took 31.9 s on the "
    "sample and 202.9 s on the large run, and `lightrank eval` scored 906 candidates/s on one "
    "249,327-candidate file of the large data (275.3 s of TFMA). After (02:36-02:45): 5.7 s, 14.7 s "
    "and, on that file, 14.0k candidates/s (the large run above, at 05:28, took 17.1 s; single "
    "runs move by a few seconds: 16.1 s and 14.7 s for the same code at 02:22 and 02:37); every "
    "one of the 1,368 metric values of the sample evaluation is "
    "unchanged to 1.3e-9. A second `lightrank run` of the sample config, the Trainer cached: 17.9 s "
    "for the whole command, the Evaluator 6.5 s (143 s and 114 s when first measured). The profiles "
    "that led to each change: docs/performance.md, items 7 to 9.",
    "quality-catalog": "**Findings (2026-12-07 05:28-05:47, both quality tables, the `default` "
    "preset with its 6,000-step budget).** On ten times the sample (837 eval requests) `default` leads "
    "every other model on every column, and the paired bootstrap puts it ahead of the fair "
    "`lightgbm` in AUC (0.9236 against 0.9126; interval +0.0073 to +0.0148) and in recall (10, 3) "
    "(0.6332 against 0.5751; +0.0398 to +0.0757), and ahead of itself with the earlier 3,000-step "
    "budget (AUC +0.0078, recall (10, 3) +0.0243). On the catalog at 4,000 requests (800 eval "
    "requests) it ties `lightgbm` in AUC (0.7138 against 0.7103; -0.0025 to +0.0093) and is behind "
    "it in recall (10, 3) (0.4908 against 0.5125; -0.0383 to -0.0050), while leading it in RCE and "
    "NRCE. It leads logistic regression on every column of both tables. An exploratory run of the "
    "same commands on another pipeline run of the same catalog data (05:17, the 3,000-step default) "
    "gave `default` 0.7140 / 0.5058 and `lightgbm` 0.7047 / 0.4992: a new Transform output moves "
    "both models by more than the bootstrap's intervals, which count only the eval requests' noise. "
    "On the sample at its own size (97 eval requests; the settings, ids and Tuner tables below) "
    "`default` and `lightgbm` tie.",
    "ids-catalog": "**Findings (2026-12-07 05:57-06:09, both ids tables).** With the paired "
    "bootstrap over the eval requests, on the sample (97 eval requests) `default` is ahead of the "
    "raw floats without `continuous_log` (AUC +0.0278, recall (10, 3) +0.0825), of dropout 0.2 "
    "(+0.0077, +0.0378) and of the `one_bag` preset (+0.0299, +0.0653); the form of the ids (FM "
    "over all pairs, no FM term, one summed 50-wide bag) and 128-wide embeddings are ties. On the "
    "catalog (48 eval requests), whose signal is in its ids, `default` is ahead of one summed "
    "50-wide bag (AUC +0.0235, recall (10, 3) +0.0833) and in AUC of dropout 0.2; everything else "
    "there is a tie, `lightgbm` and logistic regression included. `default` costs 114.1 kFLOP per "
    "candidate on the sample, 1.12x the `original`'s 102.0 (90.3 against 98.8 on the catalog); "
    "`one_bag` (the previous default) 246.2.",
    "tuning-catalog": "**Findings (2026-12-07, both Tuner tables).** 8 Bayesian trials of 1,500 "
    "steps each (124 s on the sample at 05:52; 73 s on the catalog at 00:55, whose Tuner output the "
    "05:57 table reads; the data steps came from the cache). On the sample the tuned default "
    "(learning rate 0.18, dropout 0, 4-wide bags, MLP scale 3) scored AUC 0.8729 against 0.8635, "
    "RCE 21.07 against 19.77 and recall (10, 3) 0.4914 against 0.4777; on the catalog (learning "
    "rate 0.14, dropout 0.1, 4-wide bags, MLP scale 3) RCE 2.48 against 1.24, AUC 0.6517 against "
    "0.6554, recall (10, 3) 0.3194 against 0.3819. The paired bootstrap calls every one of these "
    "differences a tie: on 97 and 48 eval requests the search, which selects on RCE over that same "
    "split, cannot be told from noise. Tuning is an option, not the default.",
}


def assemble(parts_dir: str, now: datetime.datetime | None = None) -> str:
    """The document from the part files `<parts_dir>/<stem>.md` that exist, in `SECTIONS` order.

    Raises:
        FileNotFoundError: If no part file exists (nothing was measured).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    found = [(stem, title, text) for stem, title, text in SECTIONS if os.path.isfile(_part(parts_dir, stem))]
    if not found:
        raise FileNotFoundError(f"no benchmark tables in {parts_dir}: run `make bench`")
    lines = [
        "# Benchmarks",
        "",
        f"Assembled by `make bench` on {now:%Y-%m-%d %H:%M} UTC from the tables its commands wrote; "
        "regenerate it with `make bench` (about 50 minutes on 2 cores). Every table gives the machine, "
        "the package versions and the exact "
        "command that measured it, and nothing here is edited by hand. The speed work, with the "
        "before and after of each change and the goals, is in [docs/performance.md](docs/performance.md).",
        "",
        *(f"- [{title}](#{_anchor(title)})" for _, title, _ in found),
        "",
    ]
    for stem, title, text in found:
        with open(_part(parts_dir, stem)) as f:
            table = f.read().strip()
        lines += [f"## {title}", "", text, "", table, ""]
        if stem in FINDINGS:
            lines += [FINDINGS[stem], ""]
    return "\n".join(lines)


def _part(parts_dir: str, stem: str) -> str:
    return os.path.join(parts_dir, f"{stem}.md")


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, spaces to dashes, punctuation dropped."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -")
    return kept.replace(" ", "-")


def write_atomically(path: str, text: str) -> None:
    """Writes `text` to `path` through a temporary file, so a failure never leaves half a file."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make bench`'s last step."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts-dir", required=True, help="directory of <section>.md tables")
    parser.add_argument("--out", required=True, help="the document to write, e.g. BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        write_atomically(args.out, assemble(args.parts_dir))
    except FileNotFoundError as error:
        print(f"lightrank-bench: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
