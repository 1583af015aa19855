"""The bootstrap's pure helpers, in process (loaded from its file, like in a job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bootstrap_harness import JOBS_SOURCE, load_jobs_module

bootstrap = load_jobs_module("_bootstrap")


@pytest.mark.parametrize(
    ("text", "module", "function"),
    [
        ("algo", "algo", None),
        ("pkg.sub.algo", "pkg.sub.algo", None),
        ("pkg.algo:main", "pkg.algo", "main"),
        ("  algo:main \n", "algo", "main"),
        ("_private._m:_f", "_private._m", "_f"),
        ("émigré:π", "émigré", "π"),
    ],
)
def test_parse_entry_point(text: str, module: str, function: str | None) -> None:
    entry_point = bootstrap.parse_entry_point(text)
    assert (entry_point.module, entry_point.function) == (module, function)
    assert str(entry_point) == text.strip()


@pytest.mark.parametrize("text", ["", "a.", ".a", "a-b", "a:", "a:b.c", "a:b:c", "a b", "3"])
def test_parse_entry_point_rejects(text: str) -> None:
    with pytest.raises(bootstrap.SetupError) as caught:
        bootstrap.parse_entry_point(text)
    assert str(caught.value).startswith(f"EntryPointError: invalid entry point {text!r}")
    assert caught.value.exit_code == bootstrap.SETUP_FAILURE_EXIT_CODE


@pytest.mark.parametrize(("returncode", "exit_code"), [(0, 0), (1, 1), (255, 255), (-15, 143)])
def test_exit_code_of(returncode: int, exit_code: int) -> None:
    assert bootstrap.exit_code_of(returncode) == exit_code


def test_setup_error_is_one_line_and_bounded() -> None:
    error = bootstrap.SetupError("EntryPointError", "a\nb\r\nc" + "x" * 2000)
    text = str(error)
    assert "\n" not in text
    assert "\r" not in text
    assert text.startswith("EntryPointError: a b  c")
    assert len(text) == len("EntryPointError: ") + bootstrap.MAX_MESSAGE_LENGTH


def test_shim_is_shipped_next_to_the_bootstrap() -> None:
    shim = Path(bootstrap.SHIM_DIR)
    assert shim == JOBS_SOURCE / "_shim"
    # `braket` must stay a namespace package, or it would hide a real installation.
    assert not (shim / "braket" / "__init__.py").exists()
    assert sorted(str(p.relative_to(shim)) for p in shim.rglob("*.py")) == [
        "braket/jobs/__init__.py",
        "braket/jobs/data_persistence.py",
        "braket/jobs/environment_variables.py",
        "braket/jobs/metrics.py",
        "braket/jobs_data/__init__.py",
    ]
