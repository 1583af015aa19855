"""The user's source module and entry point, checked before anything starts."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from ._names import validate_entry_point
from .errors import ConfigurationError

__all__ = ["SourceModule", "resolve_source"]


@attrs.frozen
class SourceModule:
    """A checked source module.

    Attributes:
        path: The module file or package folder, absolute.
        entry_point: ``module`` or ``module:function``, relative to the code folder.
    """

    path: Path
    entry_point: str


def resolve_source(source_module: str | os.PathLike[str], entry_point: str | None) -> SourceModule:
    """Check that ``source_module`` exists and that ``entry_point`` is found in it.

    As in the official SDK, the file or folder is put in the job's code folder under its
    own name, and the default entry point is that name (``algo.py`` -> ``algo``).
    """
    text = os.fspath(source_module) if isinstance(source_module, (str, os.PathLike)) else None
    if not isinstance(text, str):
        raise ConfigurationError(f"source_module must be a path, not {source_module!r}")
    if text.startswith("s3://"):
        raise ConfigurationError(
            f"source_module {text!r} is an S3 URI: local jobs take a local file or folder"
        )
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise ConfigurationError(f"source_module {text!r} does not exist")
    if path.is_file() and path.suffix != ".py":
        raise ConfigurationError(f"source_module {text!r} is a file but not a .py module")
    name = path.stem if path.is_file() else path.name
    if entry_point is None:
        entry_point = name
    module = validate_entry_point(entry_point).partition(":")[0]
    if module.split(".")[0] != name or not _module_exists(path.parent, module):
        raise ConfigurationError(
            f"Entry point {entry_point!r} is not found in source_module {text!r}: "
            f"the module must be {name!r} or inside it"
        )
    return SourceModule(path, entry_point)


def _module_exists(code_root: Path, module: str) -> bool:
    base = code_root.joinpath(*module.split("."))
    # A folder counts too: namespace packages need no __init__.py.
    return base.with_suffix(".py").is_file() or base.is_dir()
