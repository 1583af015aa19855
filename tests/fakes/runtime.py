"""A runtime whose jobs do what the test says, when the test says: no processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from braket_async.runtimes import CollectedOutputs, Execution, JobRuntime, JobSpec
from braket_async.runtimes._base import CHECKPOINTS_FOLDER, MODEL_FOLDER


class FakeExecution(Execution):
    """One fake job: prints what :meth:`say` gives it, exits on :meth:`exit`."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.killed = False
        self.closed = False
        self.collected: Path | None = None
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def say(self, *lines: str) -> None:
        for line in lines:
            self._lines.put_nowait(line)

    def exit(self, code: int = 0) -> None:
        self._lines.put_nowait(None)
        if not self._exit.done():
            self._exit.set_result(code)

    async def output(self) -> AsyncIterator[str]:
        while (line := await self._lines.get()) is not None:
            yield line

    async def wait(self) -> int:
        return await self._exit

    async def kill(self) -> None:
        self.killed = True
        self.exit(137)

    async def collect(self, destination: Path) -> CollectedOutputs:
        self.collected = destination
        (destination / MODEL_FOLDER).mkdir(parents=True)
        (destination / CHECKPOINTS_FOLDER).mkdir()
        (destination / MODEL_FOLDER / "results.json").write_text(
            '{"braketSchemaHeader": {"name": "braket.jobs_data.persisted_job_data", '
            '"version": "1"}, "dataDictionary": {"fake": true}, "dataFormat": "plaintext"}'
        )
        return CollectedOutputs(None if not self.killed else "killed")

    async def aclose(self) -> None:
        self.closed = True


class FakeRuntime(JobRuntime):
    """Starts :class:`FakeExecution` objects; ``fail_start`` makes starting raise."""

    name = "fake"

    def __init__(self, *, max_concurrent_jobs: int | None = None) -> None:
        super().__init__(max_concurrent_jobs=max_concurrent_jobs)
        self.started: dict[str, FakeExecution] = {}
        self.fail_start: Exception | None = None
        self.start_event = asyncio.Event()

    async def start(self, spec: JobSpec) -> FakeExecution:
        if self.fail_start is not None:
            raise self.fail_start
        execution = FakeExecution(spec)
        self.started[spec.job_name] = execution
        self.start_event.set()
        return execution
