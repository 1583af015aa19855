"""A new user's shell: no AWS settings but the lines ``braket-async emulator`` printed."""

from __future__ import annotations

import os
from collections.abc import Iterable

#: The last line the emulator prints at start.
LAST_LINE = "# call counters"


def bare_shell() -> dict[str, str]:
    """This environment without any AWS or braket_async setting, nor AWS config files."""
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BRAKET_"))}
    shell["AWS_CONFIG_FILE"] = shell["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return shell


def paste(shell: dict[str, str], lines: Iterable[str]) -> dict[str, str]:
    """Apply the emulator's ``export`` / ``unset`` lines to ``shell`` up to its last line.

    Raises:
        AssertionError: The lines ended before the last one (the emulator exited).
    """
    for line in lines:
        if line.startswith("export "):
            name, value = line.removeprefix("export ").strip().split("=", 1)
            shell[name] = value
        elif line.startswith("unset "):
            for name in line.split()[1:]:
                shell.pop(name, None)
        elif line.startswith(LAST_LINE):
            return shell
    raise AssertionError("the emulator exited before printing its lines")
