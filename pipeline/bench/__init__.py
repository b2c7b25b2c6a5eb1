"""`lightrank bench`: serving and training throughput of the light ranker (issue 7, first slice).

Modules: `flops` (the model's cost per candidate), `stats` (percentiles, throughput),
`serving_spec` (the parse spec an exported model reads), `serving` (exported-model
throughput, one subprocess per thread setting), `training` (examples/s of the training
loop on a Transform output), `report` (Markdown tables with machine and versions), `cli`
(the `register` function the `lightrank` CLI calls) and `errors` (`BenchInputError`).
"""
