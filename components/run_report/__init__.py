"""The RunReport component: one self-contained HTML page per run (DAG, data, metrics, model card)."""
