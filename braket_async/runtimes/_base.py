"""The seam between job handles and the runtimes that do the I/O.

A handle (``LocalQuantumJob``, the emulator's job runner) describes a job as a
:class:`JobSpec` and hands it to a :class:`JobRuntime`, which returns an
:class:`Execution`: the one running job, with its output lines, its exit code, a way to
stop it and a way to copy its outputs out. Nothing above this seam knows whether the job
runs in a container or a process; a test double implements the same two classes.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Protocol

import attrs
from anyio.abc import AsyncResource

from .._braket import DEFAULT_CHECKPOINT_PATH
from ..errors import ConfigurationError

__all__ = ["CollectedOutputs", "Execution", "JobRuntime", "JobSpec", "output_blocks"]

#: Folder names inside the destination of :meth:`Execution.collect`.
MODEL_FOLDER = "model"
CHECKPOINTS_FOLDER = "checkpoints"


def _frozen_str_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return dict(value)


def _path_tuple(value: object) -> tuple[Path, ...]:
    if isinstance(value, (str, Path)):
        return (Path(value),)
    return tuple(Path(item) for item in value)  # type: ignore[attr-defined]


def _frozen_path_mapping(value: Mapping[str, Path]) -> Mapping[str, Path]:
    return {name: Path(path) for name, path in value.items()}


@attrs.frozen(kw_only=True)
class JobSpec:
    """Everything a runtime needs to run one job.

    Paths named ``*_path`` are paths *inside* the job (container paths such as
    ``/opt/jobs/checkpoints``); paths typed :class:`~pathlib.Path` are on this machine.

    Attributes:
        job_name: The job's name (already validated).
        job_arn: The job's ARN, ``local:job/<name>`` for local jobs.
        device: The device ARN given to the job as ``AMZN_BRAKET_DEVICE_ARN``.
        entry_point: ``package.module`` or ``package.module:function``.
        code: Local files and folders put in the job's code folder under their own
            names (a module ``algo.py``, a package folder ``algo/``, ...).
        hyperparameters: Hyperparameters, already converted to strings.
        input_data: Input channel name to a local file or folder.
        checkpoint_path: Where the job reads and writes checkpoints.
        checkpoint_input: A local folder whose contents are put in the checkpoint folder
            before the job starts (to resume from earlier checkpoints), or ``None``.
        environment: Extra environment variables (credentials, S3 locations, ...).
            They reach the job through its environment, never a command line.
        image_uri: The container image, for runtimes that use one.
    """

    job_name: str
    job_arn: str
    device: str
    entry_point: str
    code: tuple[Path, ...] = attrs.field(converter=_path_tuple)
    hyperparameters: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_str_mapping)
    input_data: Mapping[str, Path] = attrs.field(factory=dict, converter=_frozen_path_mapping)
    checkpoint_path: str = attrs.field(default=DEFAULT_CHECKPOINT_PATH)
    checkpoint_input: Path | None = None
    environment: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_str_mapping)
    image_uri: str | None = None

    @checkpoint_path.validator
    def _check_checkpoint_path(self, _: attrs.Attribute[str], value: str) -> None:
        path = Path(value)
        if not path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
            raise ConfigurationError(
                f"checkpoint local path must be an absolute folder path, got {value!r}"
            )


@attrs.frozen
class CollectedOutputs:
    """What :meth:`Execution.collect` copied out of a job.

    Attributes:
        failure_reason: The first line of the job's failure file, or ``None``.
        refused: One line per path the job wrote that was not copied, saying why (a
            link leaving the job's folder, a device, ...). Everything else was copied.
    """

    failure_reason: str | None
    refused: tuple[str, ...] = ()


class Execution(Protocol):
    """One job started by a runtime. Exactly one owner awaits it and closes it.

    The owner reads :meth:`output` to its end, awaits :meth:`wait`, calls
    :meth:`collect` and finally :meth:`aclose`, which frees everything the execution
    holds (container, process, workspace, connections) and is safe to call twice.
    """

    def output(self) -> AsyncIterator[str]:
        """The job's stdout and stderr, merged, as lines without their line ends.

        The iterator ends when the job's output ends. It may be consumed once (this or
        ``output_blocks()``, see :func:`output_blocks`).
        """
        ...

    async def wait(self) -> int:
        """Wait until the job's main process exits and return its exit code."""
        ...

    async def kill(self) -> None:
        """Stop the job now. Safe to call at any time, also after it ended."""
        ...

    async def collect(self, destination: Path) -> CollectedOutputs:
        """Copy the job's outputs into the new folder ``destination``.

        The contents of the results folder (``/opt/ml/model``: ``results.json`` and
        anything else the job wrote there) land in ``destination / "model"`` and the
        checkpoint folder in ``destination / "checkpoints"``. ``destination`` must not
        exist yet, or be empty. Nothing is read or written outside it: links the job made
        that leave their folder, devices and FIFOs are refused (and listed in
        :attr:`CollectedOutputs.refused`), and no write goes through a link.
        """
        ...

    async def aclose(self) -> None:
        """Free everything the execution holds. Idempotent."""
        ...


def output_blocks(execution: Execution) -> AsyncIterator[str]:
    """The output of ``execution`` in blocks of whole lines, each line ending in ``\\n``.

    An execution may offer ``output_blocks()`` itself (both runtimes here do): the lines
    of :meth:`Execution.output` as they arrive together, decoded in one piece, which
    costs a fast reader far less per line. For one that does not, each line of
    ``output()`` is its own block.
    """
    own = getattr(execution, "output_blocks", None)
    if callable(own):
        blocks: AsyncIterator[str] = own()
        return blocks
    return _line_blocks(execution.output())


async def _line_blocks(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in lines:
        yield line + "\n"


class JobRuntime(AsyncResource):
    """Runs jobs described by :class:`JobSpec`; subclasses do the I/O.

    A runtime may bound how many jobs run at once: owners hold :meth:`job_slot` for the
    whole life of an execution, and jobs waiting for a slot are ``QUEUED``.

    Args:
        max_concurrent_jobs: How many jobs may run at once; ``None`` for no limit.
    """

    #: A short name, used in default job names and in error messages.
    name: str = "runtime"

    def __init__(self, *, max_concurrent_jobs: int | None = None) -> None:
        if max_concurrent_jobs is not None and max_concurrent_jobs < 1:
            raise ConfigurationError("max_concurrent_jobs must be at least 1")
        self.max_concurrent_jobs = max_concurrent_jobs
        self._slots = (
            asyncio.Semaphore(max_concurrent_jobs) if max_concurrent_jobs is not None else None
        )

    @property
    def has_free_slot(self) -> bool:
        """Whether a job asking for a slot now gets one without waiting."""
        return self._slots is None or not self._slots.locked()

    @contextlib.asynccontextmanager
    async def job_slot(self) -> AsyncIterator[None]:
        """Hold one of the runtime's job slots; waits while all are taken."""
        if self._slots is None:
            yield
            return
        async with self._slots:
            yield

    async def prepare(self, spec: JobSpec) -> None:
        """Check that this runtime can run ``spec``, before the job is accepted.

        Raises :class:`~braket_async.errors.RuntimeUnavailableError` with the fix when it
        cannot (no Docker daemon, a missing image, no interpreter). The default does
        nothing.
        """

    @abc.abstractmethod
    async def start(self, spec: JobSpec) -> Execution:
        """Start the job and return its :class:`Execution`.

        The caller holds a :meth:`job_slot`. If starting fails, nothing is left behind.
        """

    async def aclose(self) -> None:
        """Free what the runtime holds (clients, connections). Idempotent."""
