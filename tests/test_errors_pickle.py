"""Every public exception crosses a process boundary whole: pickled and unpickled (a
process pool, a cluster), it has the same type, message and attributes."""

from __future__ import annotations

import concurrent.futures
import functools
import importlib
import multiprocessing
import pickle
from typing import Any

import pytest

from braket_async.errors import (
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    ServiceError,
    ThrottlingError,
)

#: The packages whose ``__all__`` users import from.
PUBLIC_MODULES = [
    "braket_async",
    "braket_async.errors",
    "braket_async.aws",
    "braket_async.local",
    "braket_async.runtimes",
    "braket_async.jobs",
    "braket_async.emulator",
]

#: Realistic arguments of the exceptions whose constructor is not ``(message)``.
ARGUMENTS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "JobFailedError": (("local:job/x", "FAILED", "AlgorithmError: boom, exit code: 1"), {}),
    "JobCancelledError": (("arn:aws:braket:us-east-1:123456789012:job/x", "CANCELLED"), {}),
    "JobTimeoutError": (("local:job/slow", 2.5), {}),
    "ServiceError": (
        ("ValidationException", "jobName is too long"),
        {"operation": "CreateJob", "request_id": "req-1", "status": 400},
    ),
    "ApiError": (("ConflictException", "job is not running"), {}),
    "ThrottlingError": (
        ("ThrottlingException", "Rate exceeded"),
        {"operation": "GetJob", "request_id": "req-2", "status": 429},
    ),
}


def public_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


EXCEPTIONS = public_exceptions()


def make(kind: type[BaseException]) -> BaseException:
    if kind.__name__ in ARGUMENTS:
        args, kwargs = ARGUMENTS[kind.__name__]
        return kind(*args, **kwargs)
    # Any other takes a message, as the builtin it derives from does.
    own = [
        c for c in kind.__mro__ if c.__module__.startswith("braket_async") and "__init__" in vars(c)
    ]
    assert not own, f"give {kind.__name__} realistic arguments in ARGUMENTS"
    return kind(f"{kind.__name__}: something went wrong")


def assert_same(copy: BaseException, original: BaseException) -> None:
    assert type(copy) is type(original)
    assert str(copy) == str(original)
    assert copy.args == original.args
    assert copy.__dict__ == original.__dict__


def test_the_public_exceptions_are_found() -> None:
    names = {kind.__name__ for kind in EXCEPTIONS.values()}
    assert set(ARGUMENTS) <= names
    assert {"ConfigurationError", "ArchiveError", "SettingsError", "BraketAsyncError"} <= names


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_a_public_exception_survives_pickle(name: str) -> None:
    original = make(EXCEPTIONS[name])
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert_same(pickle.loads(pickle.dumps(original, protocol=protocol)), original)


def test_attributes_set_after_construction_travel_too() -> None:
    error = ServiceError("AccessDeniedException", "no", operation="GetJob")
    error.hint = "check the role"  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(error))
    assert copy.hint == "check the role"
    assert (copy.code, copy.operation, copy.status) == ("AccessDeniedException", "GetJob", None)


def test_errors_raised_in_a_process_pool_arrive_whole() -> None:
    errors = [
        make(ServiceError),
        make(ThrottlingError),
        make(JobFailedError),
        make(JobCancelledError),
        make(JobTimeoutError),
    ]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        for error in errors:
            # The error goes to the worker pickled, is raised there, and comes back
            # pickled again: both directions of a pool.
            future = pool.submit(functools.partial(exec, "raise error", {"error": error}))
            raised = future.exception(timeout=60)
            assert raised is not None
            assert_same(raised, error)
