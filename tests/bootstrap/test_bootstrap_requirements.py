"""requirements.txt in the code folder is pip-installed before the user code runs."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from bootstrap_harness import PYTHON, JobTree

RECORD_MARKER = """
with open("ran", "w") as file:
    file.write("yes")
"""


def _build_wheel(folder: Path) -> Path:
    """A pure-Python wheel of ``tinypkg`` (built by hand: no network, no build backend)."""
    files = {
        "tinypkg/__init__.py": b"VALUE = 42\n",
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bootstrap-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinypkg-1.0.dist-info/RECORD,,")
    files["tinypkg-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def test_requirements_are_installed_before_the_user_code(job: JobTree, tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
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
    assert outcome.failure.endswith(Path(PYTHON).name)
    assert not (job.code / "ran").exists()
