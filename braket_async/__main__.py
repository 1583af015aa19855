"""``braket-async`` (or ``python -m braket_async``): the package's command line.

Sub-commands:
    emulator    run the local Braket service emulator (``braket-async emulator --help``)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_USAGE = "usage: braket-async emulator [options]   (braket-async emulator --help)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sub-command named by the first argument; return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if arguments else 2
    command, rest = arguments[0], arguments[1:]
    if command == "emulator":
        # Imported here: the emulator is a separate layer that the library never loads.
        from .emulator._cli import main as emulator_main

        return emulator_main(rest)
    print(f"braket-async: unknown command {command!r}\n{_USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
