"""Every requirements.txt of the code folder is pip-installed before the user code runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bootstrap_harness import PYTHON, JobTree
from support.wheels import build_wheel

RECORD_MARKER = """
with open("ran", "w") as file:
    file.write("yes")
"""


def test_requirements_are_installed_before_the_user_code(job: JobTree, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    target = tmp_path / "site"
    job.write("requirements.txt", f"--no-index\n{wheel}\n")
    job.write("algo.py", "import tinypkg\nprint(f'RESULT {tinypkg.VALUE}')\n")
    # PIP_TARGET keeps the test's interpreter environment untouched.
    outcome = job.run(
        "algo",
        extra_env={"PIP_TARGET": str(target), "PYTHONPATH": f"{job.lib}:{target}"},
    )
    assert outcome.returncode == 0, outcome.stderr
    assert "Successfully installed tinypkg-1.0" in outcome.stdout
    assert outcome.result_line() == 42


def test_requirements_with_only_comments(job: JobTree) -> None:
    job.write("requirements.txt", "# nothing to install\n")
    job.write("algo.py", RECORD_MARKER)
    outcome = job.run("algo")
    assert outcome.returncode == 0, outcome.stderr
    assert "installing requirements.txt with pip" in outcome.stderr
    assert (job.code / "ran").read_text() == "yes"
    assert outcome.failure is None


def test_failed_install_fails_the_job_before_the_user_code(job: JobTree) -> None:
    job.write("requirements.txt", "--no-index\nbraket-async-no-such-package-for-tests\n")
    job.write("algo.py", RECORD_MARKER)
    outcome = job.run("algo")
    assert outcome.returncode == 2
    assert outcome.failure == (
        "RequirementsError: pip install -r requirements.txt failed with exit code 1 "
        "(its output is in the job log)"
    )
    assert "braket-async-no-such-package-for-tests" in outcome.stderr  # pip's own message
    assert not (job.code / "ran").exists()


def test_missing_pip_fails_the_job(job: JobTree) -> None:
    # Without site-packages (-S) there is no pip, as in a minimal python3 image.
    job.write("requirements.txt", "anything\n")
    job.write("algo.py", RECORD_MARKER)
    outcome = job.run("algo", options=("-S",))
    assert outcome.returncode == 2
    assert outcome.failure is not None
    assert outcome.failure.startswith(
        "RequirementsError: the code has a requirements.txt, but pip is not installed for "
    )
    assert f"pip is not installed for {PYTHON}" in outcome.failure
    assert not (job.code / "ran").exists()


def test_requirements_inside_a_source_folder_are_installed(job: JobTree, tmp_path: Path) -> None:
    # create() puts a folder source under code/<name>/: its requirements.txt counts too.
    wheel = build_wheel(tmp_path)
    target = tmp_path / "site"
    job.write("algo/requirements.txt", f"--no-index\n{wheel}\n")
    job.write("algo/__init__.py", "")
    job.write("algo/main.py", "import tinypkg\nprint(f'RESULT {tinypkg.VALUE}')\n")
    outcome = job.run(
        "algo.main",
        extra_env={"PIP_TARGET": str(target), "PYTHONPATH": f"{job.lib}:{target}"},
    )
    assert outcome.returncode == 0, outcome.stderr
    assert "installing algo/requirements.txt" in outcome.stderr
    assert outcome.result_line() == 42


def test_a_cached_job_environment_is_made_once_and_leaves_the_interpreter_alone(
    job: JobTree, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path)
    cache = tmp_path / "environments"
    job.write("algo/requirements.txt", f"--no-index\n{wheel}\n")
    job.write("algo/__init__.py", "")
    job.write(
        "algo/main.py",
        "import sys, tinypkg\nprint(f'RESULT {tinypkg.VALUE}')\nprint('PYTHON', sys.executable)\n",
    )
    first = job.run("algo.main", extra_env={"BRAKET_ASYNC_ENV_CACHE": str(cache)})
    assert first.returncode == 0, first.stderr
    assert first.result_line() == 42
    assert "Successfully installed tinypkg-1.0" in first.stdout
    (environment,) = [p for p in cache.iterdir() if p.is_dir()]
    assert f"PYTHON {environment}/bin/python" in first.stdout
    second = job.run("algo.main", extra_env={"BRAKET_ASYNC_ENV_CACHE": str(cache)})
    assert second.returncode == 0, second.stderr
    assert "using the cached job environment" in second.stderr
    assert "Successfully installed" not in second.stdout
    # The interpreter that ran the bootstrap never saw the package.
    probe = subprocess.run([PYTHON, "-c", "import tinypkg"], capture_output=True)
    assert probe.returncode != 0
    # The job environment sees the base interpreter's packages (pip is one of them).
    layered = subprocess.run(
        [str(environment / "bin" / "python"), "-c", "import attrs"], capture_output=True
    )
    assert layered.returncode == 0, layered.stderr
