"""Keeping a person's terminal readable while TensorFlow, Beam and TFX log freely.

`output_to(log_file)` points file descriptors 1 and 2 at a log file, so that
everything (Python logging, TensorFlow's C++ messages, Beam worker output) lands
there, and hands back a stream on the real terminal for the few lines a person
should read. It must be entered *before* TensorFlow is imported, because
TensorFlow prints while it loads; this module therefore imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def output_to(log_file: str) -> Iterator[TextIO]:
    """Sends fds 1 and 2 to `log_file` (appending) for the duration of the block.

    Yields:
        A line-buffered text stream on the original stdout.
    """
    os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved_out), "w", buffering=1)
    with open(log_file, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield console
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            console.close()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Holds back what is written to fd 2 (TensorFlow's load-time chatter) during the block.

    If the block fails, the held-back text is written out after all, so an import
    error is never hidden.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
