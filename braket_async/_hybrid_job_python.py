"""Which Python a ``@hybrid_job`` job runs, where that can be known before it starts.

A function pickled by value only loads in the Python minor version that pickled it, so
a call refuses to make a job that could not load it. What is checked:

- the process runtime: its interpreter (this one by default; ``ProcessRuntime(python=)``
  is asked once, by running it);
- an image (Docker runtime, or ``image_uri`` of a remote job): a Braket image's tag
  ``-pyXY-`` (``...-cpu-py310-...``), or an official ``python`` image's ``X.Y`` tag;
- anything else (Braket's default image, other images) is not known here: the job
  itself then refuses to load a call pickled by another minor version, with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import Any

import anyio
import anyio.to_thread

from ._targets import is_remote
from .errors import ConfigurationError

__all__ = ["check_job_python", "image_python", "job_python"]

_BRAKET_TAG = re.compile(r"-py(\d)(\d+)(?:-|$)")
_PYTHON_TAG = re.compile(r"(\d)\.(\d+)(?:\D|$)")
_PROBE = "import sys; print(*sys.version_info[:2])"
# Interpreters asked once per process: (path, modification time) -> (major, minor).
_asked: dict[tuple[str, int], tuple[int, int] | None] = {}


def image_python(image: str) -> tuple[int, int] | None:
    """The Python version an image's name promises, or ``None``."""
    reference = image.rsplit("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return None  # no tag (a registry port is no tag)
    found = _BRAKET_TAG.search(tag)
    if found is None and repository.rsplit("/", 1)[-1] == "python":
        found = _PYTHON_TAG.match(tag)
    return (int(found.group(1)), int(found.group(2))) if found else None


async def job_python(target: Any, image_uri: str | None) -> tuple[tuple[int, int], str] | None:
    """The ``(major, minor)`` of the job's Python and where it was learned, or ``None``
    when it is not known before the job runs."""
    from .runtimes import DockerRuntime, ProcessRuntime

    if target == "process":
        return sys.version_info[:2], "this interpreter runs process jobs"
    if isinstance(target, ProcessRuntime):
        version = await _interpreter_version(target.python)
        return (version, f"ProcessRuntime(python={target.python!r})") if version else None
    if (
        target == "docker"
        or isinstance(target, DockerRuntime)
        or is_remote(target)
        or (target is None)
    ):
        image = image_uri or getattr(target, "image_uri", None)
        if image:
            version = image_python(image)
            return (version, f"image {image}") if version else None
    return None


async def check_job_python(function_name: str, target: Any, image_uri: str | None) -> None:
    """Refuse a by-value call of ``function_name`` for a job of another Python minor
    version than this one.

    Raises:
        ConfigurationError: The job's Python is known, and its minor version differs.
    """
    known = await job_python(target, image_uri)
    here = sys.version_info[:2]
    if known is None or known[0] == here:
        return
    (major, minor), source = known
    raise ConfigurationError(
        f"{function_name} goes to the job pickled by value, and that loads only in the "
        f"Python minor version that pickled it: this program runs Python "
        f"{here[0]}.{here[1]}, the job Python {major}.{minor} ({source}). Run the job "
        f"on Python {here[0]}.{here[1]}, or decorate with serialization='json' (the job "
        "imports the function, the arguments go as JSON)"
    )


async def _interpreter_version(python: str) -> tuple[int, int] | None:
    key = await anyio.to_thread.run_sync(_identity, python)
    if key is None:
        return None  # the runtime says what is wrong with it
    if key[0] == sys.executable:
        return sys.version_info[:2]
    if key not in _asked:
        _asked[key] = await _ask(key[0])
    return _asked[key]


def _identity(python: str) -> tuple[str, int] | None:
    """``(path, modification time)`` of the interpreter ``python`` (a path or a command
    name); this one's path when it is the same file."""
    path = shutil.which(python) or python
    try:
        if os.path.samefile(path, sys.executable):
            return sys.executable, 0
        return path, os.stat(path).st_mtime_ns
    except OSError:
        return None


async def _ask(python: str) -> tuple[int, int] | None:
    try:
        with anyio.fail_after(30):
            done = await anyio.run_process([python, "-c", _PROBE], check=False)
    except (OSError, TimeoutError):
        return None
    parts = done.stdout.decode(errors="replace").split()
    if done.returncode != 0 or len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])
