"""The Ray job's entry point on the node: it keeps one braket_async job (standard library only).

Shipped in the job's ``working_dir`` package as :data:`KEEPER_FILE` and run by Ray's job
supervisor as ``python3 braket_async_ray_job.py; exit $?`` in the unpacked package, which
Ray shares between jobs with the same package and which this program therefore only
reads. It:

1. leaves Ray's process group for a session of its own and becomes a child subreaper,
   so that whatever the job starts (``setsid`` grandchildren too) is its descendant and
   is killed when the job ends; Ray's own clean-up (``kill -9`` of the entry point's
   process group when its supervisor actor dies) cannot kill it before it has done so;
2. makes a private workspace in the node's temporary folder, unpacks the job's tree into
   it (from the package, or from the object store through a presigned URL) and runs the
   bootstrap there, with the job's environment (sealed in the package, opened with the
   one-time key Ray passes in ``BRAKET_ASYNC_RAY_KEY``);
3. copies the user code's output to its own (the Ray job's log), as valid UTF-8: Ray
   decodes that file as text;
4. ends the job's whole tree when Ray stops the job (SIGTERM), when it is orphaned (its
   parent, Ray's entry point shell, died: the supervisor actor or the node is gone) and
   when its creator's lease runs out (no renewal seen through the dashboard for the
   lease's length: the creating machine, or the way to it, is gone);
5. sends the outputs back: the results and checkpoint folders as tar archives and the
   failure reason, framed in the log after a line that says the user code ended, or
   uploaded to presigned URLs when they are larger than the log may carry.

Every line of its own starts with the job's nonce and a space; :mod:`._frames` (the
creator's side) reads them.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import ctypes
import errno
import json
import os
import select
import shutil
import signal
import socket
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

#: The names this program and its configuration have in the package.
KEEPER_FILE = "braket_async_ray_job.py"
CONFIG_FILE = "braket_async_job.json"
TREE_FILE = "tree.tar"
#: The variable that carries the key of the sealed environment.
KEY_VARIABLE = "BRAKET_ASYNC_RAY_KEY"
#: Set in every process of the job: which Ray job it belongs to (tests and operators
#: find leftovers by it).
SUBMISSION_VARIABLE = "BRAKET_ASYNC_RAY_SUBMISSION"
#: Raw bytes per framed line (base64 makes 65,536 characters of them).
FRAME_BYTES = 49152
#: The keeper's own exit codes when the job could not run or was ended by it.
SETUP_FAILURE = 2
ENDED_BY_KEEPER = 137

_PR_SET_CHILD_SUBREAPER = 36
_READ_SIZE = 1 << 16
_CHECK_SECONDS = 0.5
_KILL_GRACE_SECONDS = 1.0


class Keeper:
    """One job on this node, from its unpacked package to its last framed line."""

    def __init__(self, config: dict[str, Any], out: BinaryIO) -> None:
        self.config = config
        self.nonce = str(config["nonce"])
        self.out = out
        self.parent = os.getppid()
        self.reason: str | None = None  # why the keeper ended the job, if it did
        self.stopped_by: int | None = None
        self.workspace = ""
        self.lease = Lease(config.get("lease"))
        self._wake_read, self._wake_write = os.pipe()
        for descriptor in (self._wake_read, self._wake_write):
            os.set_blocking(descriptor, False)

    # --- frames ---------------------------------------------------------------------

    def frame(self, kind: str, payload: str = "") -> None:
        """One line of the keeper's own, which the creator reads (see ``_frames.py``)."""
        self.out.write(f"{self.nonce} {kind} {payload}".rstrip().encode() + b"\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """A line of the job's log, written by the keeper."""
        self.out.write(f"braket_async ray: {text}\n".encode("utf-8", "replace"))
        self.out.flush()

    # --- the job --------------------------------------------------------------------

    def run(self) -> int:
        """Run the job to its end and send its outputs; the Ray job's exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)
        signal.set_wakeup_fd(self._wake_write)
        self.frame("started", json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
        root = tempfile.gettempdir()
        self.workspace = tempfile.mkdtemp(prefix="braket-async-ray-", dir=root)
        try:
            try:
                environment = self._environment()
                self._unpack()
            except Exception as exc:  # the job never ran: say why, as the bootstrap would
                reason = f"BootstrapError: {type(exc).__name__}: {_one_line(str(exc))}"
                self.say(reason)
                self.frame("ended", str(SETUP_FAILURE))
                self._send_outputs(SETUP_FAILURE, reason)
                return SETUP_FAILURE
            code = self._run_bootstrap(environment)
            if self.reason is not None:
                self.say(self.reason)
            self.frame("ended", str(code))
            return self._send_outputs(code, self.reason)
        finally:
            shutil.rmtree(self.workspace, ignore_errors=True)

    def _path(self, job_path: str) -> str:
        return os.path.join(self.workspace, job_path.lstrip("/"))

    def _environment(self) -> dict[str, str]:
        layout = self.config["layout"]
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", KEY_VARIABLE)
        }
        environment.update(
            _open_sealed(self.config.get("sealed", ""), os.environ.get(KEY_VARIABLE))
        )
        environment.update(layout["values"])
        environment.update({name: self._path(path) for name, path in layout["paths"].items()})
        scratch = self._path("/tmp")
        os.makedirs(scratch, exist_ok=True)
        environment["TMPDIR"] = scratch
        environment[layout["cache_variable"]] = os.path.expanduser(self.config["environment_cache"])
        return environment

    def _unpack(self) -> None:
        source = self.config.get("tree_url")
        if source:
            with contextlib.closing(urllib.request.urlopen(source, timeout=60)) as response:
                _extract(response, self.workspace)
        else:
            with open(TREE_FILE, "rb") as file:
                _extract(file, self.workspace)

    def _run_bootstrap(self, environment: dict[str, str]) -> int:
        layout = self.config["layout"]
        read_end, write_end = os.pipe()
        command = [
            sys.executable,
            self._path(layout["bootstrap"]),
            "--ml-root",
            self._path(layout["ml_root"]),
        ]
        pid = os.fork()
        if pid == 0:  # the bootstrap: its own process group, so that a stop reaches all
            try:
                os.setpgid(0, 0)
                os.dup2(write_end, 1)
                os.dup2(write_end, 2)
                os.close(read_end)
                os.close(write_end)
                signal.set_wakeup_fd(-1)
                for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(signum, signal.SIG_DFL)
                os.chdir(self._path(layout["code"]))
                os.execve(command[0], command, environment)
            finally:
                os._exit(127)
        os.close(write_end)
        return self._relay(pid, read_end)

    def _relay(self, pid: int, pipe: int) -> int:
        """Copy the job's output until the bootstrap exits; end the job when told to."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        status: int | None = None
        open_pipe = True
        ending_since: float | None = None
        while status is None or open_pipe:
            if status is not None and ending_since is None:
                # The bootstrap exited: what it left running ends now.
                self._end_tree(pid, signal.SIGKILL)
                ending_since = time.monotonic()
            watched = [self._wake_read] + ([pipe] if open_pipe else [])
            try:
                ready, _, _ = select.select(watched, [], [], _CHECK_SECONDS)
            except InterruptedError:
                ready = []
            if self._wake_read in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_read, 512)
            if pipe in ready:
                data = os.read(pipe, _READ_SIZE)
                if data:
                    self.out.write(decoder.decode(data).encode("utf-8"))
                    self.out.flush()
                else:
                    open_pipe = False
            if status is None:
                status = _reap(pid)
            if status is None:
                self._check(pid)
            elif (
                open_pipe
                and ending_since is not None
                and time.monotonic() - ending_since > _KILL_GRACE_SECONDS
            ):
                open_pipe = False  # a writer that survived SIGKILL is not waited for
        os.close(pipe)
        tail = decoder.decode(b"", final=True)
        if tail:
            self.out.write(tail.encode("utf-8") + b"\n")
        self._end_tree(pid, signal.SIGKILL)
        assert status is not None
        if self.reason is not None and status == 0:
            return ENDED_BY_KEEPER
        return status

    def _check(self, pid: int) -> None:
        """End the job if Ray stops it, the keeper is orphaned or the lease ran out."""
        if self.reason is not None:
            return
        if self.stopped_by is not None:
            self.reason = f"stopped by Ray (signal {self.stopped_by})"
        elif os.getppid() != self.parent:
            self.reason = (
                "the Ray job's driver died (its supervisor actor or node is gone): "
                "the job was ended on its node"
            )
        else:
            self.reason = self.lease.expired()
        if self.reason is not None:
            self._end_tree(pid, signal.SIGTERM)
            deadline = time.monotonic() + _KILL_GRACE_SECONDS
            while time.monotonic() < deadline and _reap(pid, keep=True) is None:
                time.sleep(0.05)
            self._end_tree(pid, signal.SIGKILL)

    def _end_tree(self, pid: int, signum: int) -> None:
        """Signal the bootstrap's group and every other descendant of this process."""
        with contextlib.suppress(OSError):
            os.killpg(pid, signum)
        for _ in range(100):
            children = _children()
            if not children:
                return
            for child in children:
                with contextlib.suppress(OSError):
                    os.kill(child, signum)
            if signum != signal.SIGKILL:
                return
            for child in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child, 0)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopped_by = signum

    # --- outputs --------------------------------------------------------------------

    def _send_outputs(self, code: int, reason: str | None) -> int:
        """Send the results and checkpoint folders and the failure reason; the exit code."""
        layout = self.config["layout"]
        failure = _failure_line(self._path(layout["failure"])) or (
            reason if code != 0 and reason else None
        )
        archives = []
        try:
            for name, job_path in (
                ("model", layout["model"]),
                ("checkpoints", layout["checkpoints"]),
            ):
                archives.append((name, self._archive(name, self._path(job_path))))
            total = sum(os.path.getsize(path) for _, path in archives)
            limit = int(self.config["log_output_limit"])
            uploads = self.config.get("output_urls") or {}
            if total > limit and not uploads:
                code = code or 1
                failure = (
                    f"OutputError: the job's outputs are {total / 2**20:.1f} MiB, more than "
                    f"the {limit / 2**20:.0f} MiB that come back through the Ray job's log; "
                    "give RayRuntime a storage= to bring them back"
                )
                self.say(failure)
            else:
                for name, path in archives:
                    if total > limit:
                        _upload(path, uploads[name])
                        self.frame("stored", name)
                    else:
                        self._send_file(name, path)
        except Exception as exc:
            code = code or 1
            failure = f"OutputError: {type(exc).__name__}: {_one_line(str(exc))}"
            self.say(failure)
        if failure:
            self.frame("failure", base64.b64encode(failure.encode("utf-8", "replace")).decode())
        self.frame("done", str(code))
        return code

    def _archive(self, name: str, folder: str) -> str:
        """``folder`` as a tar archive whose top folder is ``name`` (links kept as links)."""
        path = os.path.join(self.workspace, f".{name}.tar")
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
            if os.path.isdir(folder) and not os.path.islink(folder):
                archive.add(folder, arcname=name)
        return path

    def _send_file(self, name: str, path: str) -> None:
        with open(path, "rb") as file:
            while chunk := file.read(FRAME_BYTES):
                self.frame("file", f"{name} {base64.b64encode(chunk).decode()}")


class Lease:
    """The creator's lease on the job, renewed by uploading numbered empty packages.

    The creator uploads ``<prefix>1.zip``, ``<prefix>2.zip``, ... one every few
    seconds; the keeper looks for the next one through the dashboard. When none came
    for ``seconds`` (or the dashboard could not be asked), the creator is gone.
    """

    def __init__(self, config: dict[str, Any] | None) -> None:
        self.config = config
        self.seen = 0
        self._reached = ""
        self.renewed = time.monotonic()
        self._next_look = 0.0

    def expired(self) -> str | None:
        """Why the job must end now (the lease ran out), or ``None``."""
        if not self.config:
            return None
        now = time.monotonic()
        if now >= self._next_look:
            self._next_look = now + float(self.config["look_seconds"])
            while self._exists(self.seen + 1):
                self.seen += 1
                self.renewed = time.monotonic()
        seconds = float(self.config["seconds"])
        if time.monotonic() - self.renewed > seconds:
            return (
                f"no word from the job's creator for {seconds:.0f} s (its lease ran out): "
                "the job was ended on its node"
            )
        return None

    def _exists(self, number: int) -> bool:
        assert self.config is not None
        name = f"{self.config['prefix']}{number}.zip"
        urls = _dashboard_urls(self.config["dashboard"])
        for url in sorted(urls, key=lambda url: url != self._reached):
            try:
                with contextlib.closing(
                    urllib.request.urlopen(f"{url}/api/packages/gcs/{name}", timeout=5)
                ):
                    self._reached = url
                    return True
            except urllib.error.HTTPError:
                self._reached = url
                return False  # not uploaded yet (404), or refused
            except (urllib.error.URLError, OSError, ValueError):
                continue
        return False


def _dashboard_urls(address: str) -> list[str]:
    """Where this node may reach the dashboard: the address the creator used, and, for a
    loopback one, the head's host (``RAY_ADDRESS`` names the GCS, ``host:port``, on the
    head) with the same port."""
    urls = [address.rstrip("/")]
    scheme, _, rest = address.rstrip("/").partition("://")
    host, _, port = rest.rpartition(":")
    gcs = os.environ.get("RAY_ADDRESS", "")
    if host in ("127.0.0.1", "localhost", "[::1]") and ":" in gcs and "://" not in gcs:
        urls.append(f"{scheme}://{gcs.rsplit(':', 1)[0]}:{port}")
    return urls


def _children() -> list[int]:
    """The children of this process (a subreaper: every orphan of the job among them)."""
    children: list[int] = []
    me = os.getpid()
    try:
        for task in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{task}/children", "rb") as file:
                children += [int(child) for child in file.read().split()]
    except OSError:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{entry}/stat", "rb") as file:
                    fields = file.read().rsplit(b")", 1)[1].split()
                    if int(fields[1]) == me:
                        children.append(int(entry))
    return children


def _reap(pid: int, keep: bool = False) -> int | None:
    """The exit code of ``pid`` once it exited (``128 + signum`` when killed)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1
    if done == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _extract(stream: BinaryIO, workspace: str) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        if hasattr(tarfile, "fully_trusted_filter"):
            # The tree is the creator's own staging of the user's files, links included.
            archive.extractall(workspace, filter="fully_trusted")
        else:
            archive.extractall(workspace)


def _upload(path: str, url: str) -> None:
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        request = urllib.request.Request(url, data=file, method="PUT")
        request.add_header("Content-Length", str(size))
        # As presigned (urllib's default type would be a form, which S3 refuses).
        request.add_header("Content-Type", "application/x-tar")
        with contextlib.closing(urllib.request.urlopen(request, timeout=60)) as response:
            if response.status >= 300:
                raise OSError(f"uploading {os.path.basename(path)} answered {response.status}")


def _open_sealed(sealed: str, key: str | None) -> dict[str, str]:
    """The job's environment: the sealed bytes XOR the one-time key."""
    if not sealed:
        return {}
    data, pad = base64.b64decode(sealed), base64.b64decode(key or "")
    if len(pad) != len(data):
        raise OSError(f"{KEY_VARIABLE} does not open the job's environment")
    opened = bytes(a ^ b for a, b in zip(data, pad))  # noqa: B905 - lengths checked
    environment: dict[str, str] = json.loads(opened.decode("utf-8"))
    return environment


def _failure_line(path: str) -> str | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        line = file.read(1 << 16).split(b"\n", 1)[0]
    return line.decode("utf-8", "replace").strip() or None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:900]


def _become_keeper() -> int | None:
    """Leave Ray's process group and session and become a child subreaper.

    When this process leads its group (the shell exec'ed it), a child of it goes on:
    the parent waits, passes on Ray's signals and returns the child's exit code.
    """
    try:
        os.setsid()
    except OSError as exc:
        if exc.errno != errno.EPERM:
            raise
        pid = os.fork()
        if pid:

            def forward(number: int, frame: object) -> None:
                os.kill(pid, number)

            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, forward)
            while True:
                try:
                    _, status = os.waitpid(pid, 0)
                    code = os.waitstatus_to_exitcode(status)
                    return 128 - code if code < 0 else code
                except InterruptedError:
                    continue
        os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    return None


def main() -> int:
    """Keep the job described by the package in the working folder; its exit code."""
    with open(CONFIG_FILE, encoding="utf-8") as file:
        config = json.load(file)
    parent_code = _become_keeper()
    if parent_code is not None:
        return parent_code
    return Keeper(config, sys.stdout.buffer).run()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
