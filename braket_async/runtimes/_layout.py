"""Where things live inside a job, and the environment a job sees.

Both runtimes build the same tree. The Docker runtime builds it at ``/`` in the
container; the process runtime builds it under a per-job workspace folder and rebases
every path below onto that folder (``/opt/ml/model`` becomes ``<workspace>/opt/ml/model``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from ._base import JobSpec

__all__ = [
    "BOOTSTRAP_PATH",
    "BRAKET_ROOT",
    "CODE_PATH",
    "ENVIRONMENT_CACHE_VARIABLE",
    "FAILURE_PATH",
    "HYPERPARAMETERS_PATH",
    "INPUT_DATA_PATH",
    "LIBRARY_PATH",
    "ML_ROOT",
    "MODEL_PATH",
    "RESULTS_PATH",
    "hyperparameters_json",
    "job_environment",
    "read_failure_reason",
]

#: Only the first line of a failure file counts, however much the job wrote.
FAILURE_LINE_LIMIT = 1 << 16

ML_ROOT = "/opt/ml"
BRAKET_ROOT = "/opt/braket"  # a link to ML_ROOT, as in the official containers
CODE_PATH = "/opt/ml/code"
MODEL_PATH = "/opt/ml/model"
FAILURE_PATH = "/opt/ml/output/failure"
RESULTS_PATH = "/opt/braket/model"
HYPERPARAMETERS_PATH = "/opt/braket/input/config/hyperparameters.json"
INPUT_DATA_PATH = "/opt/braket/input/data"
# The in-job API (braket_async.jobs, stdlib only) and the bootstrap are shipped here.
LIBRARY_PATH = "/opt/braket_async/lib"
# Not started with -m, so that the supervising interpreter does not import the whole
# in-job API (braket_async/jobs/__init__.py) it never uses.
BOOTSTRAP_PATH = f"{LIBRARY_PATH}/braket_async/jobs/_bootstrap.py"
#: Where the bootstrap keeps the job environments it builds for requirements files
#: (``CACHE_VARIABLE`` of ``braket_async/jobs/_requirements.py``, which reads it).
ENVIRONMENT_CACHE_VARIABLE = "BRAKET_ASYNC_ENV_CACHE"


def _same(path: str) -> str:
    return path


def bootstrap_command(
    python: str, rebase: Callable[[str], str] = _same, *, prelude: str = ""
) -> list[str]:
    """The command that starts a job's bootstrap (before its ``--ml-root`` and options).

    The bootstrap is imported from its folder rather than run as a script: a script is
    compiled at every start, an imported module is read from its cached bytecode (where
    the folder allows one, as the process runtime's shared library does). ``prelude``
    runs first in the same interpreter (the Docker runtime's unpacks the job's files from
    standard input: ``_file_stream.UNPACK``).
    """
    folder = os.path.dirname(rebase(BOOTSTRAP_PATH))
    stub = f"import sys; sys.path.insert(0, {folder!r}); import _bootstrap; _bootstrap.run()"
    return [python, "-c", prelude + stub]


def job_environment(spec: JobSpec, rebase: Callable[[str], str] = _same) -> dict[str, str]:
    """The environment of the job's bootstrap, with paths passed through ``rebase``.

    ``spec.environment`` comes first, so a user cannot override the job contract by
    accident.
    """
    environment = dict(spec.environment)
    environment.update(
        {
            "AMZN_BRAKET_JOB_NAME": spec.job_name,
            "AMZN_BRAKET_DEVICE_ARN": spec.device,
            "AMZN_BRAKET_JOB_RESULTS_DIR": rebase(RESULTS_PATH),
            "AMZN_BRAKET_CHECKPOINT_DIR": rebase(spec.checkpoint_path),
            "AMZN_BRAKET_SCRIPT_ENTRY_POINT": spec.entry_point,
            "PYTHONPATH": rebase(LIBRARY_PATH),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if spec.hyperparameters:
        environment["AMZN_BRAKET_HP_FILE"] = rebase(HYPERPARAMETERS_PATH)
    if spec.input_data:
        environment["AMZN_BRAKET_INPUT_DIR"] = rebase(INPUT_DATA_PATH)
    return environment


def hyperparameters_json(spec: JobSpec) -> bytes:
    """The hyperparameters file: a JSON object of strings."""
    return json.dumps(dict(spec.hyperparameters)).encode()


def first_line(data: bytes) -> str | None:
    """The failure reason in the start of a failure file: its first line, or ``None``."""
    line = data[:FAILURE_LINE_LIMIT].split(b"\n", 1)[0]
    return line.decode("utf-8", errors="replace").strip() or None


def read_failure_reason(path: os.PathLike[str] | str) -> str | None:
    """The first line of the failure file at ``path`` (never followed if a link)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, or a link the job made: no reason
        return None
    with os.fdopen(descriptor, "rb") as file:
        return first_line(file.read(FAILURE_LINE_LIMIT))
