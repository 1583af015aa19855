"""Scripts written for the official SDK import ``braket.jobs`` even where it is not installed."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import types
from pathlib import Path

import braket.jobs as official_jobs
import braket.jobs.data_persistence as official_data_persistence
import braket.jobs.environment_variables as official_environment_variables
import braket.jobs.metrics as official_metrics
import braket.jobs_data as official_jobs_data
import pytest
from bootstrap_harness import JOBS_SOURCE, JobTree

import braket_async.jobs as api
from braket_async.jobs import _environment, _log_metric, _persistence

SHIM = JOBS_SOURCE / "_shim"
# Shim module -> (the module it re-exports, the official module it stands in for).
MODULES: dict[str, tuple[types.ModuleType, types.ModuleType]] = {
    "braket.jobs": (api, official_jobs),
    "braket.jobs.metrics": (_log_metric, official_metrics),
    "braket.jobs.data_persistence": (_persistence, official_data_persistence),
    "braket.jobs.environment_variables": (_environment, official_environment_variables),
    "braket.jobs_data": (api, official_jobs_data),
}

OFFICIAL_STYLE = """
import json
import braket.jobs, braket.jobs.metrics, braket.jobs.data_persistence
import braket.jobs.environment_variables, braket.jobs_data
import braket_async.jobs as api
from braket.jobs import get_job_name, load_job_result, save_job_checkpoint, save_job_result
from braket.jobs.metrics import log_metric
from braket.jobs_data import PersistedJobDataFormat

save_job_result({"energy": -1.5}, data_format=PersistedJobDataFormat.PICKLED_V4)
save_job_checkpoint({"step": 3}, "s")
log_metric("energy", -1.5, timestamp=10.0, iteration_number=1)
modules = [braket.jobs, braket.jobs.metrics, braket.jobs.data_persistence,
           braket.jobs.environment_variables, braket.jobs_data]
print("RESULT " + json.dumps({
    "files": {m.__name__: m.__file__ for m in modules},
    "all": {m.__name__: m.__all__ for m in modules},
    "same": all(getattr(m, name) is getattr(api, name) for m in modules for name in m.__all__),
    "job": get_job_name(),
    "result": load_job_result(allow_pickle=True),
}))
"""


@pytest.mark.parametrize("as_script", [False, True], ids=["module", "script"])
def test_shim_serves_the_in_job_api_when_braket_is_absent(job: JobTree, as_script: bool) -> None:
    job.write("algo.py", OFFICIAL_STYLE)
    # -S: no site-packages, so the developer's own braket installation is invisible.
    outcome = job.run("algo", options=("-S",), as_script=as_script)
    assert outcome.returncode == 0, outcome.stderr
    result = outcome.result_line()
    assert isinstance(result, dict)

    shim = job.jobs / "_shim"
    assert result["files"] == {
        "braket.jobs": str(shim / "braket" / "jobs" / "__init__.py"),
        "braket.jobs.metrics": str(shim / "braket" / "jobs" / "metrics.py"),
        "braket.jobs.data_persistence": str(shim / "braket" / "jobs" / "data_persistence.py"),
        "braket.jobs.environment_variables": str(
            shim / "braket" / "jobs" / "environment_variables.py"
        ),
        "braket.jobs_data": str(shim / "braket" / "jobs_data" / "__init__.py"),
    }
    assert result["all"] == {
        "braket.jobs": api.__all__,
        "braket.jobs.metrics": _log_metric.__all__,
        "braket.jobs.data_persistence": _persistence.__all__,
        "braket.jobs.environment_variables": _environment.__all__,
        "braket.jobs_data": ["PersistedJobDataFormat"],
    }
    assert result["same"] is True
    assert result["job"] == "bootstrap-test"
    assert result["result"] == {"energy": -1.5}
    assert "Metrics - timestamp=10.0; energy=-1.5; iteration_number=1;\n" in outcome.stdout
    saved = json.loads((job.ml_root / "model" / "results.json").read_text())
    assert saved["dataFormat"] == "pickled_v4"
    checkpoints = job.root / "opt" / "jobs" / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == ["bootstrap-test_s.json"]


def _load_shim_module(name: str) -> types.ModuleType:
    """A shim module loaded from its file under a private name (the real braket is installed)."""
    parts = name.split(".")
    path = SHIM.joinpath(*parts, "__init__.py")
    if not path.exists():
        path = SHIM.joinpath(*parts[:-1], f"{parts[-1]}.py")
    private = "shim_under_test_" + "_".join(parts)
    spec = importlib.util.spec_from_file_location(private, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", MODULES)
def test_shim_modules_re_export_their_source(name: str) -> None:
    source, _ = MODULES[name]
    shim = _load_shim_module(name)

    expected = ["PersistedJobDataFormat"] if name == "braket.jobs_data" else source.__all__
    assert shim.__all__ == expected
    for exported in shim.__all__:
        assert getattr(shim, exported) is getattr(source, exported)


@pytest.mark.parametrize("name", MODULES)
def test_shim_modules_have_the_official_functions(name: str) -> None:
    # What scripts import from the official module is there, with the official signature.
    _, official = MODULES[name]
    shim = _load_shim_module(name)
    public = {
        attribute: value
        for attribute, value in vars(official).items()
        if not attribute.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", "") == official.__name__
    }
    if name == "braket.jobs_data":
        public = {"PersistedJobDataFormat": official.PersistedJobDataFormat}  # no pydantic model
    if name == "braket.jobs":
        # The official package's own names come from modules without a stand-in
        # (hybrid_job, config, image_uris); its re-exports are checked one by one.
        public = {n: getattr(official, n) for n in shim.__all__ if hasattr(official, n)}
    assert public
    for attribute, value in public.items():
        ours = getattr(shim, attribute)
        if inspect.isfunction(value):
            assert inspect.signature(ours).parameters.keys() == (
                inspect.signature(value).parameters.keys()
            ), attribute
        else:
            assert [m.value for m in ours] == [m.value for m in value], attribute


def _real_braket(root: Path, with_jobs: bool, with_jobs_data: bool = False) -> Path:
    """A ``braket`` namespace portion, laid out as the official distributions install it."""
    (root / "braket" / "circuits").mkdir(parents=True)
    (root / "braket" / "circuits" / "__init__.py").write_text("CIRCUITS = 'real'\n")
    if with_jobs:
        (root / "braket" / "jobs").mkdir()
        (root / "braket" / "jobs" / "__init__.py").write_text("REAL = True\n")
    if with_jobs_data:
        (root / "braket" / "jobs_data").mkdir()
        (root / "braket" / "jobs_data" / "__init__.py").write_text("REAL = True\n")
    return root


def test_real_braket_jobs_wins_over_the_shim(job: JobTree, tmp_path: Path) -> None:
    real = _real_braket(tmp_path / "real", with_jobs=True)
    job.write(
        "algo.py",
        """
        import json, braket.jobs
        print("RESULT " + json.dumps([braket.jobs.__file__, getattr(braket.jobs, "REAL", False)]))
        """,
    )
    outcome = job.run("algo", options=("-S",), extra_env={"PYTHONPATH": f"{job.lib}:{real}"})
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == [str(real / "braket" / "jobs" / "__init__.py"), True]


def test_shim_does_not_hide_the_rest_of_a_real_braket(job: JobTree, tmp_path: Path) -> None:
    # An image with, say, only the schemas installed: `braket` exists, `braket.jobs` not.
    real = _real_braket(tmp_path / "real", with_jobs=False, with_jobs_data=True)
    job.write(
        "algo.py",
        """
        import json
        import braket.circuits, braket.jobs_data
        from braket.jobs import load_job_result, save_job_result
        save_job_result(1)
        print("RESULT " + json.dumps([
            braket.circuits.CIRCUITS, getattr(braket.jobs_data, "REAL", False), load_job_result()
        ]))
        """,
    )
    outcome = job.run("algo", options=("-S",), extra_env={"PYTHONPATH": f"{job.lib}:{real}"})
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == ["real", True, {"result": 1}]


def test_shim_is_last_on_sys_path(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import json, sys
        print("RESULT " + json.dumps(sys.path[-1]))
        """,
    )
    outcome = job.run("algo")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == str(job.jobs / "_shim")
