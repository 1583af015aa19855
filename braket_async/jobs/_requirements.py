"""A job's own dependencies: every ``requirements.txt`` of its code, installed first.

Standard library only (the bootstrap imports it inside any image). The requirements are
installed into one of:

- a **cached job environment** when ``BRAKET_ASYNC_ENV_CACHE`` names a folder (the
  process runtime sets it): a virtual environment layered on the interpreter that runs
  the job (its packages stay visible through a ``.pth`` file), named by a hash of that
  interpreter and of the requirements' contents, so that the next job with the same
  requirements starts without installing, and the interpreter itself is never changed;
- a **per-job environment** in the temporary folder when the interpreter is marked
  externally managed (PEP 668, as Debian's ``python3``);
- otherwise the interpreter itself, as the official job containers do.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "CACHE_VARIABLE",
    "REQUIREMENTS",
    "RequirementsFailure",
    "find_requirements",
    "prepare_environment",
]

REQUIREMENTS = "requirements.txt"
#: Set by the process runtime: where cached job environments live.
CACHE_VARIABLE = "BRAKET_ASYNC_ENV_CACHE"
_COMPLETE = ".braket_async_complete"
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules"})

Run = Callable[[Sequence[str], str], int]
Log = Callable[[str], None]


class RequirementsFailure(Exception):
    """Installing failed; ``str()`` says why, ``exit_code`` is the job's."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def find_requirements(code_dir: str) -> list[str]:
    """Every ``requirements.txt`` under ``code_dir``, relative, shallowest first.

    Hidden folders and caches are not searched; links to folders are not followed.
    """
    found: list[str] = []
    for folder, folders, files in os.walk(code_dir):
        folders[:] = sorted(
            name for name in folders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        )
        if REQUIREMENTS in files and os.path.isfile(os.path.join(folder, REQUIREMENTS)):
            found.append(os.path.relpath(os.path.join(folder, REQUIREMENTS), code_dir))
    return sorted(found, key=lambda path: (path.count(os.sep), path))


def prepare_environment(code_dir: str, run: Run, log: Log) -> str:
    """Install the code's requirements; return the interpreter that runs the user code.

    Raises:
        RequirementsFailure: pip is missing, or an install failed.
    """
    import tempfile

    files = find_requirements(code_dir)
    if not files:
        return sys.executable
    cache = os.environ.get(CACHE_VARIABLE)
    if cache:
        return _cached_environment(code_dir, files, cache, run, log)
    if _externally_managed():
        folder = tempfile.mkdtemp(prefix="braket_async_env_")
        log(f"{sys.executable} is externally managed: installing into {folder}")
        return _build(code_dir, files, folder, run, log)
    _check_pip(sys.executable)
    for name in files:
        log(f"installing {name} with pip into {sys.executable}")
        _pip(sys.executable, code_dir, name, run)
    return sys.executable


def _cached_environment(code_dir: str, files: list[str], cache: str, run: Run, log: Log) -> str:
    key = _environment_key(code_dir, files)
    os.makedirs(cache, exist_ok=True)
    folder = os.path.join(cache, key)
    with _locked(os.path.join(cache, f"{key}.lock")):
        if os.path.exists(os.path.join(folder, _COMPLETE)):
            log(f"requirements {', '.join(files)}: using the cached job environment {folder}")
            return _python_of(folder)
        partial = f"{folder}.partial-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            _remove(folder)
        try:
            _build(code_dir, files, partial, run, log)
            os.replace(partial, folder)
        except BaseException:
            _remove(partial)
            raise
    log(f"job environment {folder} is ready (and cached for jobs with the same requirements)")
    return _python_of(folder)


def _environment_key(code_dir: str, files: list[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for part in (os.path.realpath(sys.executable), sys.version):
        digest.update(part.encode() + b"\0")
    for name in files:
        digest.update(name.encode() + b"\0")
        with open(os.path.join(code_dir, name), "rb") as file:
            digest.update(hashlib.sha256(file.read()).digest())
    return digest.hexdigest()[:24]


def _build(code_dir: str, files: list[str], folder: str, run: Run, log: Log) -> str:
    import importlib.util

    with_pip = importlib.util.find_spec("ensurepip") is not None
    if not with_pip:
        _check_pip(sys.executable)
    command = [sys.executable, "-m", "venv", *([] if with_pip else ["--without-pip"]), folder]
    log(f"making the job environment {folder} on {sys.executable}")
    code = run(command, code_dir)
    if code != 0:
        raise RequirementsFailure(f"python -m venv {folder} failed with exit code {code}", 2)
    python = _python_of(folder)
    _layer(python)
    for name in files:
        log(f"installing {name} into the job environment")
        if with_pip:
            _pip(python, code_dir, name, run)
        else:
            _pip(sys.executable, code_dir, name, run, target=python)
    with open(os.path.join(folder, _COMPLETE), "w", encoding="utf-8") as file:
        file.write("\n".join(files) + "\n")
    return python


def _layer(python: str) -> None:
    """Make the base interpreter's packages visible in the environment, after its own."""
    import site
    import subprocess
    import sysconfig

    paths = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    if site.ENABLE_USER_SITE:
        paths.append(site.getusersitepackages())
    unique = list(dict.fromkeys(path for path in paths if os.path.isdir(path)))
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open(os.path.join(target, "_braket_async_base.pth"), "w", encoding="utf-8") as file:
        file.write("\n".join(unique) + "\n")


def _pip(python: str, code_dir: str, name: str, run: Run, target: str | None = None) -> None:
    command = [python, "-m", "pip"]
    if target is not None:
        command += ["--python", target]
    # From the file's own folder, so that a relative path in it means a file beside it.
    folder, file = os.path.split(os.path.join(code_dir, name))
    command += ["install", "--disable-pip-version-check", "--no-input", "-r", file]
    code = run(command, folder)
    if code > 0:
        raise RequirementsFailure(
            f"pip install -r {name} failed with exit code {code} (its output is in the job log)"
        )
    if code < 0:
        raise RequirementsFailure(
            f"pip install -r {name} was killed by signal {-code}", exit_code=128 - code
        )


def _check_pip(python: str) -> None:
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise RequirementsFailure(
            f"the code has a {REQUIREMENTS}, but pip is not installed for {python}: use an "
            "image or interpreter with pip (Debian: python3-venv or python3-pip)"
        )


def _externally_managed() -> bool:
    import sysconfig

    marker = os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")
    return sys.prefix == sys.base_prefix and os.path.isfile(marker)


def _python_of(folder: str) -> str:
    return os.path.join(folder, "Scripts" if os.name == "nt" else "bin", "python")


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    import fcntl

    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


def _remove(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
