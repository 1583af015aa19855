"""Binding hyperparameters to an entry function's parameters (the module, in process).

Loaded from its file, as the bootstrap loads it in a job; the bootstrap's use of it (the
failure file's ``HyperparameterError`` lines) is tested through real jobs in
test_bootstrap_entry_points.py and test_bootstrap_failures.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from bootstrap_harness import load_jobs_module

hyperparameters = load_jobs_module("_hyperparameters")
HyperparameterError: type[Exception] = hyperparameters.HyperparameterError


def _bind(function: Callable[..., object], **values: str) -> tuple[Any, Any]:
    result: tuple[Any, Any] = hyperparameters.bind_hyperparameters(function, values)
    return result


def test_bind_converts_by_annotation_and_reports_the_rest() -> None:
    def main(shots: int, angle: float, verbose: bool, label: str, untyped=None) -> None: ...

    assert _bind(
        main, shots="10", angle="-0.5", verbose="TRUE", label="x", untyped="7", extra="1"
    ) == ({"shots": 10, "angle": -0.5, "verbose": True, "label": "x", "untyped": "7"}, ["extra"])


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

    result = hyperparameters.bind_hyperparameters(typed, {"a": 5, "b": True})
    assert result == ({"a": 5, "b": True}, [])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"shots": "ten"}, "hyperparameter 'shots' = 'ten' is not a valid int"),
        ({"shots": "1", "verbose": "1"}, "hyperparameter 'verbose' = '1' is not a valid bool"),
        ({"verbose": "false"}, "missing a required argument: 'shots'"),
        ({"shots": "x" * 500}, "'" + "x" * 97 + "...' is not a valid int"),
    ],
)
def test_bind_refuses_what_does_not_fit(values: dict[str, str], message: str) -> None:
    def main(shots: int, verbose: bool = False) -> None: ...

    with pytest.raises(HyperparameterError) as caught:
        hyperparameters.bind_hyperparameters(main, values)
    assert message in str(caught.value)


def test_bind_refuses_a_function_without_a_signature() -> None:
    class Unsigned:
        __signature__ = "not a signature"

        def __call__(self) -> None: ...

    with pytest.raises(HyperparameterError, match="cannot inspect"):
        hyperparameters.bind_hyperparameters(Unsigned(), {"a": "1"})


def test_read_hyperparameters(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({"shots": "10"}))

    assert hyperparameters.read_hyperparameters(str(path)) == {"shots": "10"}
    assert hyperparameters.read_hyperparameters(None) == {}
    assert hyperparameters.read_hyperparameters("") == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1]", "does not hold a JSON object"), ("{", "cannot read hyperparameters from")],
)
def test_read_hyperparameters_refuses_what_is_not_an_object(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(content)

    with pytest.raises(HyperparameterError, match=message):
        hyperparameters.read_hyperparameters(str(path))


def test_read_missing_hyperparameters_file(tmp_path: Path) -> None:
    with pytest.raises(HyperparameterError, match="cannot read hyperparameters from"):
        hyperparameters.read_hyperparameters(str(tmp_path / "missing.json"))
