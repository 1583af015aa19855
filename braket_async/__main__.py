"""``python -m braket_async``: the command line (see :mod:`braket_async.cli`)."""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
