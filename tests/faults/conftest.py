"""Fault tests use the e2e helpers (tests/e2e/e2e_support.py); `tiny_data` is in tests/conftest.py.

pytest puts only a test file's own folder on `sys.path` (rootdir-relative, no packages), so
the e2e folder is added here to import its helpers, as the e2e tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
