"""The run report: one self-contained HTML page per run, and the text views of lineage and runs."""
