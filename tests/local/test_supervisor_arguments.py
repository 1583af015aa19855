"""The supervisor's command line (its contract with the launcher), parsed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from braket_async.local._supervisor import _arguments


def test_the_launchers_command_lines() -> None:
    assert _arguments(["/jobs/a", "--lock-fd", "7"]) == (Path("/jobs/a"), False)
    assert _arguments(["--detached", "/jobs/a", "--lock-fd", "7"]) == (Path("/jobs/a"), True)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["/jobs/a"],  # no lock
        ["/jobs/a", "--lock-fd"],
        ["/jobs/a", "--lock-fd", "x"],
        ["/jobs/a", "/jobs/b", "--lock-fd", "3"],
        ["/jobs/a", "--lock-fd", "3", "--verbose"],
    ],
)
def test_anything_else_is_refused_with_the_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match=r"usage: python -m braket_async\.local\._supervisor"):
        _arguments(argv)
