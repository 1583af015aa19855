"""The source folder of one ``@hybrid_job`` call: the entry, the call, the modules.

The folder is the job's ``source_module``, a package that the job's code folder holds
under its own name::

    _braket_async_hybrid_job/
        __init__.py         empty
        entry.py            a copy of ``_hybrid_job_entry.py``; the job's entry point
        _hybrid_job_links.py  a copy of it: the input data links, made by the entry
        call.json           serialization, data format, input links; with "json" the
                            module, qualname and JSON arguments
        call.pickle         ``serialization="cloudpickle"``: function and arguments
        requirements.txt    ``dependencies``, installed by the job's bootstrap
        modules/            the function's module or top-level package (not a script's
                            or a notebook's: their functions go by value),
                            ``include_modules``, and cloudpickle when it is used

Everything here is checked before the folder is written (:func:`plan_call`), and only
:func:`write_source` touches the disk, in a folder the caller made.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import json
import operator
import os
import pickle
import shutil
import sys
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._rules import LINE_BREAKS, MAX_HYPERPARAMETER_VALUE
from .errors import ConfigurationError

__all__ = [
    "ENTRY_POINT",
    "MARKER",
    "PACKAGE",
    "CallPlan",
    "ModuleCopy",
    "call_hyperparameters",
    "module_copies",
    "plan_call",
    "read_requirements",
    "write_source",
]

#: The source package's name: the code folder holds nothing else, and user modules
#: live in its ``modules/``, so no user module can clash with it.
PACKAGE = "_braket_async_hybrid_job"
ENTRY_POINT = f"{PACKAGE}.entry:main"
#: A class attribute of the decorated object (``_hybrid_job_entry.MARKER`` in the job).
MARKER = "_braket_async_hybrid_job"
_ENTRY_FILE = Path(__file__).with_name("_hybrid_job_entry.py")
_LINKS_FILE = Path(__file__).with_name("_hybrid_job_links.py")
_MAIN_FALLBACK = "_braket_async_main"
_PICKLE_FIX = "use serialization='cloudpickle' (the default)"


@attrs.frozen
class ModuleCopy:
    """A module file or package folder that goes into ``modules/`` as ``name``."""

    name: str
    path: Path


@attrs.frozen
class CallPlan:
    """What one call puts in its source folder (checked, nothing written yet)."""

    call: Mapping[str, Any]
    pickled: bytes | None
    copies: tuple[ModuleCopy, ...]


def plan_call(
    function: types.FunctionType,
    bound: inspect.BoundArguments,
    *,
    serialization: str,
    data_format: str,
    include_modules: Iterable[str | types.ModuleType],
    links: Iterable[Mapping[str, str]] = (),
) -> CallPlan:
    """Check that the job can get ``function`` and the arguments; say what to write.

    ``data_format`` is the value of the ``PersistedJobDataFormat`` the job saves the
    return value in; ``links`` are the input data links the job makes.

    Raises:
        ConfigurationError: The function cannot be imported by reference, an argument is
            not plain JSON, a module cannot be copied, or cloudpickle is missing.
    """
    copies = list(module_copies(include_modules))
    call: dict[str, Any] = {
        "serialization": serialization,
        "python": list(sys.version_info[:2]),
        "data_format": data_format,
        "links": list(links),
    }
    if serialization == "json":
        module, reference_copy = _reference_of(function)
        for name, value in bound.arguments.items():
            what = f"argument {name!r} of {function.__qualname__}"
            if bound.signature.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
                for index, item in enumerate(value):
                    _check_json(item, f"{what}[{index}]")
            else:
                _check_json(value, what)
        call.update(
            module=module,
            qualname=function.__qualname__,
            args=list(bound.args),
            kwargs=dict(bound.kwargs),
        )
        return CallPlan(call, None, _merged([reference_copy, *copies]))
    cloudpickle = _cloudpickle()
    shipped = ModuleCopy("cloudpickle", Path(str(cloudpickle.__file__)).parent)
    own: list[ModuleCopy] = []
    # Globals of the function that live in an importable module are pickled by
    # reference, so the job gets that module. Nothing of ``__main__`` (a script, a
    # notebook) is: cloudpickle sends all of it by value, and the job must not run a
    # script's top level.
    if function.__module__ != "__main__":
        with contextlib.suppress(ConfigurationError):
            own.append(_reference_of(function)[1])
    pickled = _pickled_call(cloudpickle, function, bound)
    call.update(qualname=function.__qualname__)
    return CallPlan(call, pickled, _merged([*own, *copies, shipped]))


def write_source(folder: Path, plan: CallPlan, requirements: str | None) -> Path:
    """Write the source package of ``plan`` into the empty folder ``folder``; its path."""
    package = folder / PACKAGE
    modules = package / "modules"
    modules.mkdir(parents=True)
    (package / "__init__.py").write_bytes(b"")
    shutil.copyfile(_ENTRY_FILE, package / "entry.py")
    shutil.copyfile(_LINKS_FILE, package / _LINKS_FILE.name)
    (package / "call.json").write_text(json.dumps(plan.call), encoding="utf-8")
    if plan.pickled is not None:
        (package / "call.pickle").write_bytes(plan.pickled)
    if requirements is not None:
        (package / "requirements.txt").write_text(requirements, encoding="utf-8")
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc")
    for copy in plan.copies:
        if copy.path.is_dir():
            shutil.copytree(copy.path, modules / copy.name, ignore=ignored)
        else:
            shutil.copyfile(copy.path, modules / copy.name)
    return package


def read_requirements(dependencies: str | os.PathLike[str] | tuple[str, ...] | None) -> str | None:
    """The ``requirements.txt`` text of ``dependencies``: a file's, or one line each."""
    if dependencies is None:
        return None
    if isinstance(dependencies, tuple):
        return "".join(f"{line}\n" for line in dependencies)
    path = Path(dependencies).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"dependencies {os.fspath(dependencies)!r} is not a readable requirements file: {exc}"
        ) from None


def call_hyperparameters(
    signature: inspect.Signature, bound: inspect.BoundArguments
) -> dict[str, str]:
    """The call's arguments as the job's hyperparameters, as the official decorator
    records them: named ones (defaults included) and ``**kwargs``, as text."""
    complete = signature.bind(*bound.args, **bound.kwargs)
    complete.apply_defaults()
    named: dict[str, object] = {}
    for name, value in complete.arguments.items():
        kind = signature.parameters[name].kind
        if kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            named[name] = value
        elif kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
    return {name: _hyperparameter_text(value) for name, value in named.items()}


def _hyperparameter_text(value: object) -> str:
    try:
        text = str(value)
    except Exception:  # a broken __str__ only costs the record
        text = f"<{type(value).__name__}>"
    # The official decorator swaps these characters the same way; every line break (the
    # service refuses them all, not only "\n") becomes a space.
    text = LINE_BREAKS.sub(" ", text)
    for old, new in (("$", "?"), ("(", "{"), ("&", "+"), ("`", "'"), (")", "}")):
        text = text.replace(old, new)
    if len(text) > MAX_HYPERPARAMETER_VALUE:
        text = f"{text[: MAX_HYPERPARAMETER_VALUE - 23]}...{text[-20:]}"
    return text


def module_copies(modules: Iterable[str | types.ModuleType]) -> Iterable[ModuleCopy]:
    """The files or folders that make ``modules`` importable in the job."""
    for module in modules:
        if isinstance(module, types.ModuleType):
            name = module.__name__
            origin = getattr(module, "__file__", None)
            locations = list(getattr(module, "__path__", None) or [])
        else:
            name = module
            loaded = sys.modules.get(name)
            if loaded is not None:
                yield from module_copies([loaded])
                continue
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError) as exc:
                raise ConfigurationError(f"include_modules: {name!r} is not found: {exc}") from None
            if spec is None:
                raise ConfigurationError(f"include_modules: module {name!r} is not found")
            origin = spec.origin if spec.has_location else None
            locations = list(spec.submodule_search_locations or [])
        if name.partition(".")[0] in sys.stdlib_module_names:
            raise ConfigurationError(
                f"include_modules: {name!r} is part of the standard library; the job has it"
            )
        yield _top_level_copy(name, origin, locations, what=f"include_modules: {name!r}")


def _reference_of(function: types.FunctionType) -> tuple[str, ModuleCopy]:
    """The module name the job imports ``function`` from, and what to copy for it."""
    qualname = function.__qualname__
    what = f"{function.__module__}.{qualname}"
    if "<lambda>" in qualname or "<locals>" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "defined inside another function"
        raise ConfigurationError(
            f"{what} is {kind}, so the job cannot import it by reference: define it at "
            f"the top level of a module, or {_PICKLE_FIX}"
        )
    module = sys.modules.get(function.__module__)
    origin = getattr(module, "__file__", None)
    if module is None or origin is None:
        raise ConfigurationError(
            f"{what} is not defined in a module file (a notebook or an interactive "
            f"session), so the job cannot import it by reference: {_PICKLE_FIX}"
        )
    if not _same_file(function.__code__.co_filename, origin):
        raise ConfigurationError(
            f"{what} was not compiled from {origin}, so the job cannot import it from "
            f"there: {_PICKLE_FIX}"
        )
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if not (target is function or getattr(target, "__wrapped__", None) is function):
        raise ConfigurationError(
            f"{what} is not the function that name holds in its module, so the job "
            f"would call something else: {_PICKLE_FIX}"
        )
    name = function.__module__
    if name == "__main__":
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name and spec.name != "__main__":
            name = spec.name  # ``python -m package.module``: import it under that name
        else:
            # A script: imported under another name, so ``if __name__ == "__main__":``
            # does not run again in the job.
            stem = Path(origin).stem
            usable = stem.isidentifier() and stem not in sys.stdlib_module_names
            name = stem if usable else _MAIN_FALLBACK
            return name, ModuleCopy(f"{name}.py", _source_file(origin, what))
    locations = list(getattr(module, "__path__", None) or [])
    return name, _top_level_copy(name, origin, locations, what=what)


def _top_level_copy(
    name: str, origin: str | None, locations: list[str], *, what: str
) -> ModuleCopy:
    """The file or folder of the top-level module or package that ``name`` is in."""
    parts = name.split(".")
    if origin is not None and Path(origin).name != "__init__.py":
        path = _source_file(origin, what)
        depth = len(parts) - 1
    elif origin is not None or locations:
        path = Path(origin).resolve().parent if origin is not None else Path(locations[0])
        depth = len(parts) - 1
    else:
        raise ConfigurationError(f"{what} has no file to copy into the job (a built-in module)")
    top = path.parents[depth - 1] if depth else path
    if top.name not in (parts[0], f"{parts[0]}.py"):
        raise ConfigurationError(f"{what}: cannot find the folder of package {parts[0]!r}")
    return ModuleCopy(top.name, top)


def _source_file(origin: str, what: str) -> Path:
    path = Path(origin).resolve()
    if path.suffix != ".py" or not path.is_file():
        raise ConfigurationError(
            f"{what}: {origin} is not a Python source file, so it cannot be copied into "
            "the job; install it there with dependencies="
        )
    return path


def _merged(copies: Iterable[ModuleCopy]) -> tuple[ModuleCopy, ...]:
    merged: dict[str, ModuleCopy] = {}
    for copy in copies:
        earlier = merged.setdefault(copy.name, copy)
        if earlier.path != copy.path:
            raise ConfigurationError(
                f"Two modules would be {copy.name!r} in the job: {earlier.path} and {copy.path}"
            )
    return tuple(merged.values())


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _check_json(value: object, what: str) -> None:
    """Refuse a value that JSON would not carry to the job unchanged."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigurationError(f"{what} is not plain JSON ({exc}): {_PICKLE_FIX}") from None
    if json.loads(text) != value:
        raise ConfigurationError(
            f"{what} would reach the job changed by JSON (tuples become lists, dict keys "
            f"strings): pass lists and str keys, or {_PICKLE_FIX}"
        )


def _cloudpickle() -> types.ModuleType:
    try:
        return importlib.import_module("cloudpickle")
    except ImportError:
        raise ConfigurationError(
            "serialization='cloudpickle' needs cloudpickle, a dependency of braket-async: "
            "pip install cloudpickle (or reinstall braket-async)"
        ) from None


def _pickled_call(
    cloudpickle: types.ModuleType, function: types.FunctionType, bound: inspect.BoundArguments
) -> bytes:
    """``function`` by value, and the arguments, pickled without registering anything.

    cloudpickle pickles a function by reference when its module and qualname find it;
    a copy of the function is not found there, so it goes by value, and nothing has to
    be registered process-wide (``register_pickle_by_value``).
    """
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = function.__qualname__
    copy.__module__ = function.__module__
    copy.__doc__ = function.__doc__
    copy.__annotations__ = dict(function.__annotations__)
    copy.__dict__.update(function.__dict__)

    class Pickler(cloudpickle.CloudPickler):  # type: ignore[misc, name-defined]
        def reducer_override(self, obj: Any) -> Any:
            # A decorated function the code refers to is the plain function in the job,
            # as it is when the job imports the module.
            if getattr(type(obj), MARKER, False):
                return operator.itemgetter(0), ((obj.__wrapped__,),)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    payload = {"function": copy, "args": bound.args, "kwargs": bound.kwargs}
    try:
        Pickler(buffer, protocol=pickle.DEFAULT_PROTOCOL).dump(payload)
    except Exception as exc:
        raise ConfigurationError(
            f"The call of {function.__qualname__} cannot be pickled: {type(exc).__name__}: {exc}"
        ) from exc
    return buffer.getvalue()
