"""The bootstrap's pure helpers, in process (loaded from its file, like in a job)."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any, Optional

import pytest
from bootstrap_harness import BOOTSTRAP_SOURCE


def _load() -> types.ModuleType:
    # By file, so that the test does not depend on the rest of braket_async importing.
    name = "braket_async_bootstrap_under_test"
    spec = importlib.util.spec_from_file_location(name, BOOTSTRAP_SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bootstrap = _load()


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


def _bind(function: Callable[..., object], **hyperparameters: str) -> tuple[Any, Any]:
    result: tuple[Any, Any] = bootstrap.bind_hyperparameters(function, hyperparameters)
    return result


def test_bind_positional_only_parameter_is_not_bound_by_name() -> None:
    def positional(count: int = 1, /) -> None: ...

    assert _bind(positional, count="2") == ({}, ["count"])


def test_bind_positional_only_name_goes_to_var_keyword() -> None:
    def both(count: int = 1, /, **rest: int) -> None: ...

    assert _bind(both, count="2") == ({"count": 2}, [])


def test_bind_var_positional_name_is_not_a_keyword() -> None:
    def star(*args: int) -> None: ...

    assert _bind(star, args="1") == ({}, ["args"])


def test_bind_optional_and_unknown_annotations() -> None:
    def typed(a: Optional[float] = None, b: list[int] | None = None, c: Any = None) -> None: ...  # noqa: UP045

    assert _bind(typed, a="0.5", b="[1]", c="x") == ({"a": 0.5, "b": "[1]", "c": "x"}, [])


def test_bind_union_of_two_types_stays_a_string() -> None:
    def union(a: int | float) -> None: ...

    assert _bind(union, a="1") == ({"a": "1"}, [])


def test_bind_unresolvable_string_annotation_is_a_string() -> None:
    def forward(a: int, b: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    assert _bind(forward, a="1", b="2") == ({"a": 1, "b": "2"}, [])


def test_bind_to_a_class_and_a_callable_object() -> None:
    class Runner:
        def __init__(self, shots: int) -> None:
            self.shots = shots

        def __call__(self, depth: int) -> None: ...

    assert _bind(Runner, shots="3") == ({"shots": 3}, [])
    assert _bind(Runner(1), depth="4") == ({"depth": 4}, [])


def test_bind_non_string_values_are_converted_from_their_text() -> None:
    def typed(a: int, b: bool) -> None: ...

    result = bootstrap.bind_hyperparameters(typed, {"a": 5, "b": True})
    assert result == ({"a": 5, "b": True}, [])


def test_setup_error_is_one_line_and_bounded() -> None:
    error = bootstrap.SetupError("EntryPointError", "a\nb\r\nc" + "x" * 2000)
    text = str(error)
    assert "\n" not in text
    assert "\r" not in text
    assert text.startswith("EntryPointError: a b  c")
    assert len(text) == len("EntryPointError: ") + bootstrap.MAX_MESSAGE_LENGTH


def test_write_braket_shim_has_no_braket_package_init(tmp_path: Any) -> None:
    folder = bootstrap.write_braket_shim(str(tmp_path / "shim"))
    # `braket` must stay a namespace package, or it would hide a real installation.
    assert not (tmp_path / "shim" / "braket" / "__init__.py").exists()
    assert (tmp_path / "shim" / "braket" / "jobs" / "__init__.py").is_file()
    assert folder == str(tmp_path / "shim")
