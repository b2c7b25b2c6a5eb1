"""`lightrank eval`: an exported model scored on any candidate files with the Evaluator's own metrics."""
