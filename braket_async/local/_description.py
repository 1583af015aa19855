"""What a job's supervisor needs to know, written by its creator as ``.braket_async/job.json``.

The job (a :class:`~braket_async.runtimes.JobSpec`), the runtime that runs it as a
factory and its keyword arguments, and who created it. A runtime can be rebuilt in the
supervisor only if it says how (:func:`runtime_config`); others run the job in the
creating process.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import JobNotFoundError
from ..runtimes import JobRuntime, JobSpec, ProcessRuntime
from ._folder import private_folder, write_text

__all__ = ["JobDescription", "runtime_config"]

DESCRIPTION_FILE = "job.json"
#: How the job's own environment (credentials too) reaches its supervisor: in the
#: supervisor's environment, never in a file or on a command line.
ENVIRONMENT_VARIABLE = "BRAKET_ASYNC_JOB_ENVIRONMENT"
#: The supervisor's first line on its standard output: the job runs, or could not start
#: (followed by a JSON object with the error's type and message).
STARTED = b"started"
FAILED = b"failed"


def runtime_config(runtime: JobRuntime) -> dict[str, Any] | None:
    """How to rebuild ``runtime`` in another process, or ``None`` if it cannot be.

    The rebuilt runtime has no ``max_concurrent_jobs``: the creator holds the slot.
    """
    custom = getattr(runtime, "supervisor_config", None)
    if callable(custom):
        config = custom()
        return dict(config) if config is not None else None
    if type(runtime) is ProcessRuntime:
        return {
            "factory": "braket_async.runtimes:ProcessRuntime",
            "kwargs": {
                "python": runtime.python,
                "workspace_root": (
                    str(runtime.workspace_root) if runtime.workspace_root is not None else None
                ),
                "kill_grace_seconds": runtime.kill_grace_seconds,
                "environment_cache": str(runtime.environment_cache),
            },
        }
    return None


def _spec_to_json(spec: JobSpec) -> dict[str, Any]:
    return {
        "job_name": spec.job_name,
        "job_arn": spec.job_arn,
        "device": spec.device,
        "entry_point": spec.entry_point,
        "code": [str(path) for path in spec.code],
        "hyperparameters": dict(spec.hyperparameters),
        "input_data": {name: str(path) for name, path in spec.input_data.items()},
        "checkpoint_path": spec.checkpoint_path,
        "checkpoint_input": str(spec.checkpoint_input) if spec.checkpoint_input else None,
        "image_uri": spec.image_uri,
    }


def _spec_from_json(data: Mapping[str, Any], environment: Mapping[str, str]) -> JobSpec:
    fields = dict(data)
    fields["environment"] = environment
    if fields.get("checkpoint_input") is not None:
        fields["checkpoint_input"] = Path(fields["checkpoint_input"])
    return JobSpec(**fields)


@attrs.frozen(kw_only=True)
class JobDescription:
    """The job, its runtime and its creator, as the supervisor reads them."""

    spec: JobSpec
    runtime_config: Mapping[str, Any]
    owner: Mapping[str, Any]

    def write(self, folder: Path) -> None:
        """Write the description into the job's private folder (blocking).

        The job's environment is not in it: see :meth:`environment_variables`.
        """
        path = private_folder(folder) / DESCRIPTION_FILE
        data = {
            "spec": _spec_to_json(self.spec),
            "runtime": dict(self.runtime_config),
            "owner": dict(self.owner),
        }
        write_text(path, json.dumps(data), mode=0o600)

    def environment_variables(self) -> dict[str, str]:
        """What the supervisor's environment carries for it: the job's environment."""
        return {ENVIRONMENT_VARIABLE: json.dumps(dict(self.spec.environment))}

    @classmethod
    def read(cls, folder: Path, environment: Mapping[str, str]) -> JobDescription:
        """Read the description of the job in ``folder`` (blocking).

        ``environment`` is the supervisor's own, from which the job's is taken.
        """
        path = private_folder(folder) / DESCRIPTION_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
            job_environment = json.loads(environment.get(ENVIRONMENT_VARIABLE) or "{}")
            return cls(
                spec=_spec_from_json(data["spec"], job_environment),
                runtime_config=data["runtime"],
                owner=data.get("owner") or {},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JobNotFoundError(f"{path} is not a readable job description ({exc})") from exc

    def runtime(self) -> JobRuntime:
        """A new runtime made from :attr:`runtime_config`."""
        module, _, name = str(self.runtime_config["factory"]).partition(":")
        factory = getattr(importlib.import_module(module), name)
        runtime = factory(**self.runtime_config.get("kwargs", {}))
        if not isinstance(runtime, JobRuntime):
            raise TypeError(f"{self.runtime_config['factory']} did not make a JobRuntime")
        return runtime
