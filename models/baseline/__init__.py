"""The logistic-regression baseline: the same inputs as DeepNorm, one linear layer, its warm start."""
