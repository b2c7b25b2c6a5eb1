"""`lightrank bench` and `make bench`: how fast and how good the light ranker is, measured (issue 7).

Serving: `serving` (an exported model's `serving_default`, one subprocess per thread setting),
`serving_spec` (the parse spec the model reads), `flops` (its cost per candidate, for the
hardware ceiling). Comparisons on the same candidates: `comparators` (timing and table),
`comparators_setup`, `featurizer`, `gbdt` (LightGBM) and `onnx_model` (tf2onnx + ONNX Runtime).
Training: `training` (examples/s of the real loop on a Transform output). Quality: `quality`,
`quality_models` and `quality_metrics` (every model on one split). Pipeline: `pipeline_bench`,
`pipeline_workdir` and `memory` (wall time from ML Metadata, peak RSS per component). Output:
`stats`, `report` (Markdown tables with machine, versions and command) and `document`
(assembles BENCHMARKS.md); `worker` runs a measurement in a fresh process; `cli` registers the
sub-commands; `errors` holds `BenchInputError`.
"""
