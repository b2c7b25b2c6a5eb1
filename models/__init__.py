"""The light-ranker models: features, Transform, DeepNorm, baseline, training, export, metrics."""
