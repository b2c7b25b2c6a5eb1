"""Custom TFX components of the light-ranker pipeline (the anomaly gate)."""
