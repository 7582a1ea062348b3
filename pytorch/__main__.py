"""Lets `python3 path/to/pytorch ARGS` run the package without PYTHONPATH (how EdgeSplit starts it)."""

import sys

from edgesplit_torch.cli import main

sys.exit(main())
