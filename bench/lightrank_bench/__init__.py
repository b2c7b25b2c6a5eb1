"""`lightrank-bench` and `make bench`: how fast and how good the light ranker is, measured.

The goals these measurements answer, and the history of the speed work, are in
`docs/performance.md`; the current numbers are in `BENCHMARKS.md`, which `make bench` writes.

Serving: `serving` (an exported model's `serving_default`, one subprocess per thread setting),
`serving_spec` (the parse spec the model reads), `flops` (its cost per candidate, for the
hardware ceiling). Comparisons on the same candidates: `comparators` (timing and table),
`comparators_setup`, `featurizer`, `gbdt` (LightGBM) and `onnx_model` (tf2onnx + ONNX Runtime).
Training: `training` (examples/s of the real loop on a Transform output). Quality: `quality`,
`quality_models` and `quality_metrics` (every model on one split). Pipeline: `pipeline_bench`,
`pipeline_workdir` and `memory` (wall time from ML Metadata, peak RSS per component). Output:
`stats`, `tables` (Markdown tables with machine, versions and command) and `document`
(assembles BENCHMARKS.md); `worker` runs a measurement in a fresh process; `cli` is the
`lightrank-bench` command line (also `python -m lightrank_bench`); `errors` holds `BenchInputError`.
"""
