"""`python -m lightrank_bench`: the same as the `lightrank-bench` command."""

import sys

from lightrank_bench.cli import main

sys.exit(main())
