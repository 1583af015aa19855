"""Hyperparameters bound to the parameters of a job's entry function (standard library only).

The bootstrap calls a ``package.module:function`` entry point with the job's
hyperparameters (strings, from the hyperparameters file) as keyword arguments:

- a hyperparameter naming a parameter that can be given by keyword, or any of them when
  the function takes ``**kwargs``, is passed; the others are left out (the bootstrap
  notes them in the log). The official container passes none unless every
  hyperparameter names a parameter.
- each value is converted with its parameter's annotation: ``int`` and ``float`` as
  their constructors do, ``bool`` from ``true``/``false`` in any case (the official
  ``bool("False")`` is ``True``); ``X | None`` converts as ``X``, string annotations
  (``from __future__ import annotations``) are resolved, and every other annotation gets
  the string unchanged instead of being called on it.
- the arguments must then fit the signature: a required parameter without a
  hyperparameter, or a value that does not convert, is a :class:`HyperparameterError`
  before the function is called, not a ``TypeError`` inside it.

Loaded by the bootstrap from its own folder, also where no ``braket_async`` is
importable: it imports nothing but the standard library.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["HyperparameterError", "bind_hyperparameters", "read_hyperparameters"]

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_SHOWN_VALUE_LENGTH = 100


class HyperparameterError(Exception):
    """The hyperparameters cannot be read or do not fit the function; ``str()`` says why."""


def read_hyperparameters(path: str | None) -> dict[str, object]:
    """Read the hyperparameters file at ``path``; ``{}`` when there is none (``None``/``""``).

    Raises:
        HyperparameterError: The file cannot be read or does not hold a JSON object.
    """
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError) as exc:
        raise HyperparameterError(f"cannot read hyperparameters from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise HyperparameterError(f"{path} does not hold a JSON object")
    return data


def bind_hyperparameters(
    function: Callable[..., object], hyperparameters: Mapping[str, object]
) -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments to call ``function`` with, and the names left out.

    See the module documentation for which hyperparameters are passed and how they are
    converted. Values that are not strings are converted from their ``str()``.

    Raises:
        HyperparameterError: A value does not convert, the arguments do not fit the
            signature, or ``function`` has no signature to bind to.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:  # builtins without a signature
        raise HyperparameterError(f"cannot inspect {function!r}: {exc}") from exc
    parameters = signature.parameters
    var_keyword = next(
        (p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None
    )
    globalns = _globals_of(function)
    arguments: dict[str, Any] = {}
    named: dict[str, Any] = {}  # the arguments that are not for **kwargs
    ignored: list[str] = []
    for name, value in hyperparameters.items():
        parameter = parameters.get(name)
        if parameter is not None and parameter.kind in _BY_KEYWORD:
            named[name] = None
        else:
            parameter = var_keyword
        if parameter is None:
            ignored.append(name)
            continue
        target = _conversion_target(_resolve_annotation(parameter.annotation, globalns))
        text = value if isinstance(value, str) else str(value)
        try:
            arguments[name] = _convert(text, target)
        except ValueError as exc:
            raise HyperparameterError(
                f"hyperparameter {name!r} = {_shorten(text, _SHOWN_VALUE_LENGTH)!r} is not a "
                f"valid {target.__name__} ({exc})"
            ) from exc
    try:
        # Without what goes to **kwargs: bind() refuses a name that is also a positional-only
        # parameter, which a real call accepts.
        signature.bind(**named)
    except TypeError as exc:
        raise HyperparameterError(
            f"cannot call {_qualified_name(function)} with hyperparameters "
            f"{sorted(arguments)}: {exc}"
        ) from exc
    return arguments, ignored


def _convert(text: str, target: type) -> Any:
    if target is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("expected 'true' or 'false'")
    if target is int or target is float:
        return target(text)
    return text


def _conversion_target(annotation: object) -> type:
    """``int``, ``float``, ``bool`` or ``str`` (everything else stays a string)."""
    if annotation in (int, float, bool, str):
        return typing.cast(type, annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        # `X | None` (also what Python 3.10 makes of a `None` default) converts as X.
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _conversion_target(members[0])
    return str


def _resolve_annotation(annotation: object, globalns: dict[str, Any]) -> object:
    """Evaluate a string annotation (``from __future__ import annotations``).

    One parameter at a time, so that an annotation naming something imported only under
    ``TYPE_CHECKING`` does not stop the others from converting; unresolvable ones are
    treated as ``str``.
    """
    if not isinstance(annotation, str):
        return annotation
    holder = types.SimpleNamespace(__annotations__={"value": annotation})
    try:
        return typing.get_type_hints(holder, globalns=globalns)["value"]
    except Exception:  # NameError, SyntaxError, ...: whatever the user's annotation does
        return str


def _globals_of(function: Callable[..., object]) -> dict[str, Any]:
    unwrapped = inspect.unwrap(function)
    namespace = getattr(unwrapped, "__globals__", None)
    if isinstance(namespace, dict):
        return namespace
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    return vars(module) if module is not None else {}


def _qualified_name(function: Callable[..., object]) -> str:
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}:{name}" if module else name


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
