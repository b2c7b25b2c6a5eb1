"""The light ranker's evaluation metrics: RCE family and grouped light-ranking metrics, as TFMA metrics."""
