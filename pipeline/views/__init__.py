"""The command line's text views of ML Metadata: runs, lineage, compare and the graph as text."""
