"""A real two-node Ray cluster on loopback, for the Ray tests and benchmarks.

Ray itself lives in a virtual environment of its own (``tests/ray/setup.sh`` makes it;
``BRAKET_ASYNC_RAY_VENV`` names it), not in the test environment: the library needs no
Ray where jobs are created, and the tests prove it. Both nodes run on this host with
distinct ports, each from a ``ray start --block`` process of its own, so that one node
can be killed without the other. Jobs run with the Ray environment's ``python3``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["RAY_VENV", "RayCluster", "free_port", "ray_cluster"]

RAY_VERSION = "2.60.0"
RAY_VENV = Path(
    os.environ.get("BRAKET_ASYNC_RAY_VENV")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "braket-async"
    / f"ray-{RAY_VERSION}"
)
# Loopback addresses other than 127.0.0.1, which Ray swaps for the address of the host's
# network interface: each node has one of its own, and no traffic leaves loopback.
HEAD_IP = "127.0.0.3"
WORKER_IP = "127.0.0.2"
#: A resource only the worker node has: jobs that ask for it run there.
WORKER_RESOURCE = "worker_node"
_START_SECONDS = 120.0
# A dead node is noticed after about a second here (Ray's default: about 30 s).
_HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "0",
}


def free_port() -> int:
    """A TCP port nobody listens on now (loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nobody listens on now (held open together while
    chosen, so none is chosen twice)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def _ports(node: int, ports: list[int]) -> list[str]:
    """Distinct ports for every server of node ``node`` (0: head, 1: worker)."""
    options = [
        f"--node-manager-port={ports[0]}",
        f"--object-manager-port={ports[1]}",
        f"--dashboard-agent-listen-port={ports[2]}",
        f"--dashboard-agent-grpc-port={ports[3]}",
        f"--runtime-env-agent-port={ports[4]}",
        f"--metrics-export-port={ports[5]}",
    ]
    # Worker processes: a range of ports of its own per node (and per cluster), below
    # the ephemeral ports free_ports() picks from.
    base = 10000 + (os.getpid() % 20) * 1000 + node * 500
    options += [f"--min-worker-port={base}", f"--max-worker-port={base + 499}"]
    return options


class RayCluster:
    """The head (with the dashboard) and one worker node, started by :meth:`start`."""

    def __init__(self, *, head_cpus: int = 4, worker_cpus: int = 4) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="brk-ray-", dir="/tmp"))
        # Every port of both nodes, chosen at once: all distinct.
        self._ports = free_ports(15)
        self.gcs_port, self.dashboard_port, self._client_port = self._ports[12:15]
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        self.head_cpus = head_cpus
        self.worker_cpus = worker_cpus
        self.head: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.environment = {
            **os.environ,
            "PATH": f"{RAY_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            **_HEALTH_CHECKS,
        }
        for name in ("PYTHONPATH", "VIRTUAL_ENV", "RAY_ADDRESS", "COVERAGE_PROCESS_START"):
            self.environment.pop(name, None)

    @property
    def python(self) -> str:
        """The interpreter of the cluster's environment."""
        return str(RAY_VENV / "bin" / "python3")

    def _ray(self, *arguments: str, log: str, **environment: str) -> subprocess.Popen[bytes]:
        output = open(self.temp_dir / f"{log}.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            return subprocess.Popen(
                [str(RAY_VENV / "bin" / "ray"), *arguments],
                env={**self.environment, **environment},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            output.close()

    def start(self) -> None:
        """Start both nodes and wait until the dashboard sees two alive nodes."""
        self.head = self._ray(
            "start",
            "--head",
            "--block",
            f"--node-ip-address={HEAD_IP}",
            f"--port={self.gcs_port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            f"--ray-client-server-port={self._client_port}",
            f"--num-cpus={self.head_cpus}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            "--include-dashboard=true",
            *_ports(0, self._ports[0:6]),
            log="head",
        )
        self.wait_for_nodes(1)
        self.start_worker()

    def start_worker(self) -> None:
        """Start the worker node (again) and wait until it is alive."""
        self.worker = self._ray(
            "start",
            "--block",
            f"--address={HEAD_IP}:{self.gcs_port}",
            f"--node-ip-address={WORKER_IP}",
            f"--num-cpus={self.worker_cpus}",
            f"--resources={json.dumps({WORKER_RESOURCE: 1000})}",
            "--disable-usage-stats",
            *_ports(1, self._ports[6:12]),
            log="worker",
        )
        self.wait_for_nodes(2)

    def alive_nodes(self) -> list[dict[str, object]]:
        """The nodes the cluster knows alive (from the dashboard's state API)."""
        try:
            with urllib.request.urlopen(
                f"{self.address}/api/v0/nodes?detail=1&limit=100", timeout=5
            ) as response:
                data = json.load(response)
        except OSError:
            return []
        nodes = data.get("data", {}).get("result", {}).get("result", [])
        return [node for node in nodes if node.get("state") == "ALIVE"]

    def job(self, submission: str) -> dict[str, Any]:
        """What the dashboard says of a Ray job (``GET /api/jobs/{id}``), as Ray's own
        clients read it."""
        with urllib.request.urlopen(f"{self.address}/api/jobs/{submission}", timeout=10) as answer:
            info: dict[str, Any] = json.load(answer)
        return info

    def jobs(self) -> list[dict[str, Any]]:
        """Every job the cluster knows (``GET /api/jobs/``)."""
        with urllib.request.urlopen(f"{self.address}/api/jobs/", timeout=10) as answer:
            jobs: list[dict[str, Any]] = json.load(answer)
        return jobs

    def wait_for_nodes(self, count: int) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            for process, name in ((self.head, "head"), (self.worker, "worker")):
                if process is not None and process.poll() is not None:
                    log = (self.temp_dir / f"{name}.log").read_text(errors="replace")
                    raise RuntimeError(f"ray start ({name}) exited:\n{log[-3000:]}")
            if len(self.alive_nodes()) >= count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the Ray cluster did not have {count} alive nodes in time")

    def kill_worker(self) -> None:
        """Kill the worker node as a crash would: its raylet first, with SIGKILL (the
        rest of the node follows it). Processes of jobs that ran there are left to
        fend for themselves, as on a machine that lost its Ray."""
        assert self.worker is not None
        raylets = [
            pid
            for pid in _descendants(self.worker.pid)
            if "raylet" in _command(pid).split(" ", 1)[0]
        ]
        for pid in raylets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        deadline = time.monotonic() + _START_SECONDS
        while len(self.alive_nodes()) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop both nodes (``ray start --block`` ends its node on SIGTERM)."""
        for process in (self.worker, self.head):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.worker, self.head):
            if process is not None:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    fields = file.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry))
                todo.append(int(entry))
    return found


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def ray_cluster(**options: int) -> Iterator[RayCluster]:
    """A started :class:`RayCluster`, stopped on exit."""
    cluster = RayCluster(**options)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


#: Every process of a Ray job of this library has this variable (see the keeper).
SUBMISSION_VARIABLE = b"BRAKET_ASYNC_RAY_SUBMISSION="


def job_processes(submission_id: str | None = None) -> list[int]:
    """Live processes of Ray jobs on this host (of one job, or of any), found by the
    variable every process of a job inherits."""
    wanted = SUBMISSION_VARIABLE + (submission_id.encode() if submission_id else b"")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                variables = file.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as file:
                state = file.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and any(
            variable == wanted or (submission_id is None and variable.startswith(wanted))
            for variable in variables
        ):
            found.append(int(entry))
    return found


def wait_until_gone(submission_id: str | None = None, timeout: float = 30.0) -> list[int]:
    """Wait until no process of the job (or of any job) is left; what is left then."""
    deadline = time.monotonic() + timeout
    while (left := job_processes(submission_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


#: A job that starts a ``setsid`` grandchild, writes both pids to the file its
#: hyperparameter ``pids`` names, prints ``started`` and sleeps.
SETSID_JOB = """
import os, subprocess, time
from braket_async.jobs import get_hyperparameters
hp = get_hyperparameters()
child = subprocess.Popen(["setsid", "sleep", "1000"])
with open(hp["pids"], "w") as file:
    file.write(f"{os.getpid()} {child.pid}")
print("started", flush=True)
time.sleep(1000)
"""


async def start_setsid_job(runtime: Any, tmp_path: Path) -> tuple[Any, str, list[int]]:
    """Create a :data:`SETSID_JOB` on ``runtime``; once it runs, the job, its Ray
    submission id and the pids of its user code and grandchild."""
    from braket_async import LocalQuantumJob

    from .owning import first_line

    source = tmp_path / "setsid_job.py"
    source.write_text(SETSID_JOB)
    pids = tmp_path / "pids"
    job = await LocalQuantumJob.create(
        "local:none/none",
        str(source),
        root=tmp_path / "jobs",
        runtime=runtime,
        hyperparameters={"pids": str(pids)},
    )
    assert await first_line(job) == "started"
    submission = (await job.metadata())["rayJob"]["submissionId"]
    return job, submission, [int(pid) for pid in pids.read_text().split()]
