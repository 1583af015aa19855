"""Recognising user code that failed because the Amazon Braket SDK is not installed.

Scripts written for the official SDK import more of it than the in-job API the
``braket.jobs`` shim stands in for: ``braket.aws``, ``braket.circuits``,
``braket.tracking``, ``from braket.jobs import hybrid_job``. In an image without the
SDK these fail with ``No module named 'braket.tracking'``, which does not say what to
do; the bootstrap adds :data:`HINT` to the failure reason when :func:`missing_sdk_hint`
finds that this is what happened.

Loaded by the bootstrap from its own folder: standard library only.
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["HINT", "missing_sdk_hint"]

HINT = (
    "the Amazon Braket SDK is not installed in the job's environment: run the job in an "
    "image that has it (such as Braket's base jobs image), or add amazon-braket-sdk to the "
    "requirements.txt of the job's code"
)


def missing_sdk_hint(exc: BaseException, shim_dir: str | None) -> str | None:
    """:data:`HINT` if ``exc`` comes from a ``braket`` module the environment lacks, else ``None``.

    That is: ``exc``, or an exception it was raised from or while handling, is an
    ``ImportError`` of ``braket`` or one of its submodules (a missing module, or a name
    that a module lacks), and ``braket.jobs`` is either missing or the shim in
    ``shim_dir``, so the official SDK is not installed. With the SDK installed, a missing
    ``braket`` module is the script's own mistake and gets no hint.
    """
    if not _braket_import_error(exc):
        return None
    return None if _official_sdk_installed(shim_dir) else HINT


def _braket_import_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError) and _is_braket_module(current.name):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_braket_module(name: str | None) -> bool:
    return name is not None and (name == "braket" or name.startswith("braket."))


def _official_sdk_installed(shim_dir: str | None) -> bool:
    try:
        spec = importlib.util.find_spec("braket.jobs")
    except Exception:  # a broken `braket` on the path: whatever it raises, tell nothing
        return True
    if spec is None or spec.origin is None:
        return False
    if shim_dir is None:
        return True
    shim = os.path.realpath(shim_dir)
    origin = os.path.realpath(spec.origin)
    return os.path.commonpath([shim, origin]) != shim
