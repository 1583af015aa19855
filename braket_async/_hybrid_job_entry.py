"""The entry point of a job made by ``@hybrid_job``: it runs inside the job.

This file is copied, as it is, into the job's source folder as
``_braket_async_hybrid_job/entry.py`` (the job's entry point is
``_braket_async_hybrid_job.entry:main``), next to ``_hybrid_job_links.py``, ``call.json``
(what to call and how), ``call.pickle`` (with ``serialization="cloudpickle"``),
``requirements.txt`` (the decorator's ``dependencies``) and ``modules/`` (the function's
module and ``include_modules``). Like the rest of the in-job library it imports nothing
but the standard library and ``braket_async.jobs``, so it runs in any image with
``python3``.

``main`` puts ``modules/`` first on ``sys.path``, gets the function (imported by
reference, or unpickled), and calls it with the arguments from the call as the official
decorator does: in the results folder (files it writes there are collected with the
results), with the call's local input data linked at the relative paths it was given
(removed again after the call). A coroutine is run to its end. The return value is
saved in the call's data format: a dict as it is, any other value as
``{"result": value}``, ``None`` not at all.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import pickle
import sys
import types
from pathlib import Path
from typing import Any

# ``from braket_async import hybrid_job`` at the top of the function's module must work
# in the job too, where ``braket_async`` is the in-job library only.
import braket_async
from braket_async.jobs import (
    PersistedJobDataFormat,
    get_input_data_dir,
    get_results_dir,
    save_job_result,
)

from ._hybrid_job_links import InputLinks

__all__ = ["MARKER", "main"]

#: The attribute that marks the client-side decorated object, in case the job imports
#: the full library: its ``__wrapped__`` is the function.
MARKER = "_braket_async_hybrid_job"


def main(**hyperparameters: str) -> None:
    """Run the function of this job's call and save its return value.

    The hyperparameters (the call's arguments as strings, for the job's record) are
    ignored: the arguments come from ``call.json`` or ``call.pickle`` as they were given.
    """
    del hyperparameters
    here = Path(__file__).resolve().parent
    call = json.loads((here / "call.json").read_text(encoding="utf-8"))
    sys.path.insert(0, str(here / "modules"))
    if not hasattr(braket_async, "hybrid_job"):
        braket_async.hybrid_job = _hybrid_job_stand_in
    if call["serialization"] == "json":
        function = _imported_function(call["module"], call["qualname"])
        args, kwargs = call["args"], call["kwargs"]
    else:
        function, args, kwargs = _unpickled_call(here / "call.pickle", call["python"])
    os.chdir(get_results_dir())
    links = InputLinks(os.getcwd())
    try:
        links.make(call["links"], get_input_data_dir)
        result = function(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    finally:
        links.remove()
    if result is None:
        return
    data_format = PersistedJobDataFormat(call["data_format"])
    try:
        save_job_result(result, data_format=data_format)
    except TypeError as exc:
        if data_format is not PersistedJobDataFormat.PLAINTEXT:
            raise
        # The in-job API's own advice (its function's data_format) is not the fix here.
        reason = str(exc).split(";")[0]
        raise TypeError(
            f"the return value of {call['qualname']} is not JSON ({reason}): return "
            "JSON values, or decorate with data_format='pickle'"
        ) from None


def _hybrid_job_stand_in(**options: object) -> Any:
    """What ``hybrid_job(...)`` is inside a job: a decorator that changes nothing."""
    del options
    return lambda function: function


def _imported_function(module_name: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if getattr(target, MARKER, False):
        target = target.__wrapped__
    if not callable(target):
        raise TypeError(f"{module_name}.{qualname} is not a function in the job")
    return target


def _unpickled_call(path: Path, python: list[int]) -> tuple[Any, list[Any], dict[str, Any]]:
    here = list(sys.version_info[:2])
    if python != here:
        raise RuntimeError(
            "the call was pickled by Python {}.{} and the job runs Python {}.{}: pickled "
            "functions need the same minor version (pick an image or interpreter that "
            "matches, or use serialization='json')".format(*python, *here)
        )
    # The payload was written by the decorator for this job; cloudpickle's own
    # functions that rebuild it are found through modules/, where it was shipped.
    payload = pickle.loads(path.read_bytes())
    function, args, kwargs = payload["function"], payload["args"], payload["kwargs"]
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"the pickled call holds {type(function).__name__}, not a function")
    return function, list(args), dict(kwargs)
