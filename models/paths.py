"""Whether a path is a URL (`gs://...`) or a local file: the one test every layer shares.

A remote path is read and written through `tf.io.gfile`, a local one with the standard
library; the pipeline's data paths (`lightrank.pipeline.io`), the pusher's commit, the run
lock, the lineage views and the deployment commands all ask the same question. It lives here,
in the lowest layer, so each of them can import it (docs/architecture.md).
"""

from __future__ import annotations


def is_remote(path: str) -> bool:
    """True for a URL such as `gs://bucket/data`, read through `tf.io.gfile`."""
    return "://" in path
