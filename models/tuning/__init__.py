"""Hyperparameter tuning with TFX's Tuner: the `tuning` search space and the tuner it drives."""
