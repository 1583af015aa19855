"""braket_async.jobs is shipped into job containers alone: it must need only the stdlib."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import braket_async.jobs

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, os.environ["SHIP_DIR"])
    before = set(sys.modules)

    import braket_async.jobs as jobs

    # Everything the import pulled in is the stdlib or the shipped package.
    foreign = sorted(
        name for name in set(sys.modules) - before
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] != "braket_async"
    )
    assert not foreign, foreign
    assert jobs.__file__.startswith(os.environ["SHIP_DIR"]), jobs.__file__

    jobs.save_job_result({"energy": -1.5})
    jobs.save_job_result(7, jobs.PersistedJobDataFormat.PICKLED_V4)
    jobs.save_job_checkpoint({"step": 3}, "s")
    jobs.log_metric("energy", -1.5, timestamp=10.0, iteration_number=1)
    print(json.dumps({
        "result": jobs.load_job_result(allow_pickle=True),
        "checkpoint": jobs.load_job_checkpoint(checkpoint_file_suffix="s"),
        "path": sys.path[1:],
    }))
    """
)


def test_imports_and_works_with_the_stdlib_only(tmp_path: Path) -> None:
    ship = tmp_path / "ship"
    package = ship / "braket_async"
    shutil.copytree(
        Path(braket_async.jobs.__file__).parent,
        package / "jobs",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (package / "__init__.py").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "SHIP_DIR": str(ship),
        "AMZN_BRAKET_JOB_NAME": "job",
        "AMZN_BRAKET_JOB_RESULTS_DIR": str(work),
        "AMZN_BRAKET_CHECKPOINT_DIR": str(work),
    }

    # -I ignores PYTHON* variables and the user site, -S the site-packages: no dependency
    # (not even an installed braket_async) can be found.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", SCRIPT],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "Metrics - timestamp=10.0; energy=-1.5; iteration_number=1;"
    assert lines[1].startswith(
        '{"result": {"energy": -1.5, "result": 7}, "checkpoint": {"step": 3}'
    )
    assert "site-packages" not in lines[1]
    assert sorted(p.name for p in work.iterdir()) == ["job_s.json", "results.json"]
