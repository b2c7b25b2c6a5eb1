"""The light-ranker models: features, Transform, DeepNorm, baseline, training, export, metrics.

TFT and TFMA need Keras 2 (`tf_keras`): importing any model code selects it, unless the
environment already chose, so a Beam worker or a TFX executor that imports this package
first never builds a Keras 3 model by accident.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
