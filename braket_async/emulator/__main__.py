"""``python -m braket_async.emulator``: run the Braket service emulator."""

from __future__ import annotations

import sys

from ._cli import main

sys.exit(main())
