"""A fake job tree (``<tmp>/opt/ml`` and a shipped ``braket_async``) to run the bootstrap in.

The in-job library (``braket_async/jobs``: the API, the bootstrap, its sibling modules
and the ``braket`` shim) is copied out of the repository into
``<tmp>/lib/braket_async/jobs/`` next to an empty ``braket_async/__init__.py``, as the
runtimes ship it, and the bootstrap is started as a real subprocess with a minimal
environment, as the process runtime starts it. ``BOOTSTRAP_TEST_PYTHON`` selects
another interpreter (for example a Python 3.10) than the one running the tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import shutil
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

JOBS_SOURCE = Path(__file__).resolve().parents[2] / "braket_async" / "jobs"
BOOTSTRAP_SOURCE = JOBS_SOURCE / "_bootstrap.py"
PYTHON = os.environ.get("BOOTSTRAP_TEST_PYTHON", sys.executable)
MODULE = "braket_async.jobs._bootstrap"
TIMEOUT = 120.0  # generous: pip may be slow to start; nothing waits for it on success


def load_jobs_module(name: str) -> types.ModuleType:
    """Load ``braket_async/jobs/<name>.py`` from its file, as the bootstrap loads its siblings.

    By file, so that the tests do not depend on the rest of braket_async importing.
    """
    module_name = f"braket_async_under_test_{name.strip('_')}"
    spec = importlib.util.spec_from_file_location(module_name, JOBS_SOURCE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Outcome:
    """A finished bootstrap run."""

    returncode: int
    stdout: str
    stderr: str
    failure: str | None

    def result_line(self) -> object:
        """The JSON after ``RESULT `` on the user code's stdout."""
        for line in self.stdout.splitlines():
            if line.startswith("RESULT "):
                return json.loads(line.removeprefix("RESULT "))
        raise AssertionError(f"no RESULT line in {self.stdout!r}; stderr: {self.stderr}")


class JobTree:
    """The folders a job starts with, under one temporary root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lib = root / "lib"
        self.ml_root = root / "opt" / "ml"
        self.code = self.ml_root / "code"
        self.failure_path = self.ml_root / "output" / "failure"
        self.temp = root / "tmp"
        self.jobs = self.lib / "braket_async" / "jobs"
        shutil.copytree(JOBS_SOURCE, self.jobs, ignore=shutil.ignore_patterns("__pycache__"))
        (self.lib / "braket_async" / "__init__.py").write_text("")
        for folder in (
            self.code,
            self.ml_root / "model",
            self.ml_root / "output",
            root / "opt" / "jobs" / "checkpoints",
            self.temp,
            root / "home",
        ):
            folder.mkdir(parents=True)
        self._hyperparameters_file: Path | None = None

    def write(self, relative: str, text: str) -> Path:
        """Write a file of the user's code (dedented)."""
        path = self.code / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def set_hyperparameters(self, hyperparameters: Mapping[str, str]) -> None:
        """Write the hyperparameters file, as the runtime does when there are any."""
        path = self.ml_root / "input" / "config" / "hyperparameters.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(hyperparameters)))
        self._hyperparameters_file = path

    def environment(
        self, entry_point: str | None, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The job's environment; nothing of the developer's, except pip's settings."""
        environment = {key: value for key, value in os.environ.items() if key.startswith("PIP_")}
        environment.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(self.root / "home"),
                "TMPDIR": str(self.temp),
                "PYTHONPATH": str(self.lib),
                "PYTHONUNBUFFERED": "1",
                "AMZN_BRAKET_JOB_NAME": "bootstrap-test",
                "AMZN_BRAKET_DEVICE_ARN": "local:none/none",
                "AMZN_BRAKET_JOB_RESULTS_DIR": str(self.ml_root / "model"),
                "AMZN_BRAKET_CHECKPOINT_DIR": str(self.root / "opt" / "jobs" / "checkpoints"),
            }
        )
        if entry_point is not None:
            environment["AMZN_BRAKET_SCRIPT_ENTRY_POINT"] = entry_point
        if self._hyperparameters_file is not None:
            environment["AMZN_BRAKET_HP_FILE"] = str(self._hyperparameters_file)
        environment.update(extra or {})
        return environment

    def command(
        self, options: Sequence[str] = ("-s",), as_script: bool = False, relay: bool = False
    ) -> list[str]:
        """``python <options> -m braket_async.jobs._bootstrap --ml-root <tmp>/opt/ml``,
        with ``--relay-output`` (as the Docker runtime starts it) when ``relay``."""
        program = (
            [str(self.lib / "braket_async" / "jobs" / "_bootstrap.py")]
            if as_script
            else ["-m", MODULE]
        )
        relayed = ["--relay-output"] if relay else []
        return [PYTHON, *options, *program, "--ml-root", str(self.ml_root), *relayed]

    def start(
        self,
        entry_point: str | None,
        options: Sequence[str] = ("-s",),
        extra_env: Mapping[str, str] | None = None,
        as_script: bool = False,
        relay: bool = False,
    ) -> subprocess.Popen[str]:
        """Start the bootstrap with piped output."""
        return subprocess.Popen(
            self.command(options, as_script, relay),
            cwd=self.root,
            env=self.environment(entry_point, extra_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str]) -> Outcome:
        """Wait for a started bootstrap and collect what it did."""
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        failure = self.failure_path.read_text() if self.failure_path.exists() else None
        return Outcome(process.returncode, stdout, stderr, failure)

    def run(
        self,
        entry_point: str | None,
        options: Sequence[str] = ("-s",),
        extra_env: Mapping[str, str] | None = None,
        as_script: bool = False,
        relay: bool = False,
    ) -> Outcome:
        """Run the bootstrap to its end."""
        return self.finish(self.start(entry_point, options, extra_env, as_script, relay))


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = TIMEOUT) -> str:
    """Read the process's stdout until a line equal to ``marker`` (no sleeping).

    Reads the pipe's file descriptor directly, so nothing stays buffered in the text
    wrapper: ``communicate()`` later gets exactly the rest.
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while f"\n{marker}\n".encode() not in b"\n" + received:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"no {marker!r} line within {timeout} s: {received!r}")
            chunk = os.read(descriptor, 65536)
            if not chunk:
                raise AssertionError(f"stdout ended before {marker!r}: {received!r}")
            received += chunk
    return received.decode()
