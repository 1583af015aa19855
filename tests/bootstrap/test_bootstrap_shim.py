"""Scripts written for the official SDK import ``braket.jobs`` even where it is not installed."""

from __future__ import annotations

from pathlib import Path

from bootstrap_harness import JobTree

OFFICIAL_STYLE = """
import json
import braket.jobs
from braket.jobs import log_metric, save_job_result
from braket.jobs.metrics import log_metric as metrics_log_metric

print("RESULT " + json.dumps({
    "save": save_job_result({"energy": 1}),
    "log": log_metric("energy", 1.0),
    "same": metrics_log_metric is log_metric,
    "all": braket.jobs.__all__,
}))
"""


def _real_braket(root: Path, with_jobs: bool) -> Path:
    """A ``braket`` namespace portion, laid out as the official distributions install it."""
    (root / "braket" / "circuits").mkdir(parents=True)
    (root / "braket" / "circuits" / "__init__.py").write_text("CIRCUITS = 'real'\n")
    if with_jobs:
        (root / "braket" / "jobs").mkdir()
        (root / "braket" / "jobs" / "__init__.py").write_text("REAL = True\n")
    return root


def test_shim_serves_braket_jobs_when_braket_is_absent(job: JobTree) -> None:
    job.write("algo.py", OFFICIAL_STYLE)
    # -S: no site-packages, so the developer's own braket installation is invisible.
    outcome = job.run("algo", options=("-S",))
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {
        "save": ["stub save_job_result", {"energy": 1}],
        "log": ["stub log_metric", "energy", 1.0],
        "same": True,
        "all": ["log_metric", "save_job_result"],
    }


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
    real = _real_braket(tmp_path / "real", with_jobs=False)
    job.write(
        "algo.py",
        """
        import json
        import braket.circuits
        from braket.jobs import save_job_result
        print("RESULT " + json.dumps([braket.circuits.CIRCUITS, save_job_result(1)]))
        """,
    )
    outcome = job.run("algo", options=("-S",), extra_env={"PYTHONPATH": f"{job.lib}:{real}"})
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == ["real", ["stub save_job_result", 1]]


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
    shim = Path(str(outcome.result_line()))
    assert shim.parent == job.temp / shim.parent.name  # in the bootstrap's temporary folder
    assert shim.name == "shim"
