"""Twitter's notification light ranker ("DeepNorm" model pool MLP) in tf.keras (Keras 2).

Modules: `config` (hyper-parameters and presets), `normalization`, `groupwise`, `attention`
and `sparse` (the layers), `model` (the network), `loss`, `early_stopping`, `evaluation` and
`training` (the fit loop), `warm_start` (feature-list changes), `benchmark` (training throughput).
"""
