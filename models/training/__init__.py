"""The training loop both models share: train steps, full-pass validation, early stopping on RCE."""
