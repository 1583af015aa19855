"""A script that needs more of the Amazon Braket SDK than the shim provides is told so."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from bootstrap_harness import PYTHON, JobTree, load_jobs_module

missing_sdk = load_jobs_module("_missing_sdk")
bootstrap = load_jobs_module("_bootstrap")
HINT: str = missing_sdk.HINT


def test_hint_says_what_is_missing_and_how_to_add_it() -> None:
    assert "Amazon Braket SDK is not installed in the job's environment" in HINT
    assert "image" in HINT
    assert "amazon-braket-sdk" in HINT
    assert "requirements.txt" in HINT


@pytest.mark.parametrize(
    ("code", "reported"),
    [
        ("import braket.tracking", "ModuleNotFoundError: No module named 'braket.tracking'"),
        ("from braket.aws import AwsDevice", "ModuleNotFoundError: No module named 'braket.aws'"),
        (
            "from braket.circuits import Circuit",
            "ModuleNotFoundError: No module named 'braket.circuits'",
        ),
        (
            "from braket.jobs.local import LocalQuantumJob",
            "ModuleNotFoundError: No module named 'braket.jobs.local'",
        ),
    ],
)
def test_missing_braket_module_fails_with_the_hint(job: JobTree, code: str, reported: str) -> None:
    job.write("algo.py", f"{code}\nprint('RESULT 1')\n")
    # -S: no site-packages, so the developer's own braket installation is invisible.
    outcome = job.run("algo", options=("-S",))

    assert outcome.returncode == 1
    assert outcome.failure == f"AlgorithmError: {reported}, exit code: 1; {HINT}"
    assert "RESULT" not in outcome.stdout
    # The log has the traceback, then the bootstrap's line with the reason and the hint.
    assert f"{reported}\n" in outcome.stderr
    assert f"braket_async bootstrap: the job failed: {outcome.failure}\n" in outcome.stderr


def test_name_the_shim_lacks_fails_with_the_hint(job: JobTree) -> None:
    job.write("algo.py", "from braket.jobs import hybrid_job\n")
    outcome = job.run("algo", options=("-S",), as_script=True)

    assert outcome.returncode == 1
    assert outcome.failure is not None
    assert outcome.failure.startswith(
        "AlgorithmError: ImportError: cannot import name 'hybrid_job' from 'braket.jobs'"
    )
    assert outcome.failure.endswith(f", exit code: 1; {HINT}")


def test_function_entry_point_whose_module_needs_the_sdk(job: JobTree) -> None:
    job.write("algo/__init__.py", "")
    job.write("algo/main.py", "from braket.devices import LocalSimulator\ndef run():\n    pass\n")
    outcome = job.run("algo.main:run", options=("-S",))

    assert outcome.returncode == 1
    assert outcome.failure == (
        "AlgorithmError: ModuleNotFoundError: No module named 'braket.devices', "
        f"exit code: 1; {HINT}"
    )


def test_failure_raised_from_the_import_error_gets_the_hint(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        try:
            import braket.aws
        except ImportError as exc:
            raise RuntimeError("this algorithm needs a QPU") from exc
        """,
    )
    outcome = job.run("algo", options=("-S",))

    assert (
        outcome.failure
        == f"AlgorithmError: RuntimeError: this algorithm needs a QPU, exit code: 1; {HINT}"
    )


def test_long_message_is_shortened_so_that_the_hint_fits(job: JobTree) -> None:
    job.write("algo.py", "raise ImportError('x' * 5000, name='braket.aws')\n")
    outcome = job.run("algo", options=("-S",))

    assert outcome.failure is not None
    assert outcome.failure.endswith(f"..., exit code: 1; {HINT}")
    message = outcome.failure.removeprefix("AlgorithmError: ImportError: ")
    message = message.removesuffix(f", exit code: 1; {HINT}")
    assert len(message) + len(f"; {HINT}") == bootstrap.MAX_MESSAGE_LENGTH


@pytest.mark.parametrize(
    "code",
    [
        "import not_installed_dependency",  # not braket
        "import braket_plugin_of_someone",  # not the braket namespace either
        "raise RuntimeError('braket.aws')",  # not an import error
    ],
)
def test_other_failures_get_no_hint(job: JobTree, code: str) -> None:
    job.write("algo.py", code + "\n")
    outcome = job.run("algo", options=("-S",))

    assert outcome.returncode == 1
    assert outcome.failure is not None
    assert outcome.failure.endswith(", exit code: 1")
    assert HINT not in outcome.stderr


def _job_python_has_the_sdk() -> bool:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('braket.aws') is None)"
    return subprocess.run([PYTHON, "-s", "-c", probe], check=False, timeout=60).returncode == 0


def test_no_hint_where_the_sdk_is_installed(job: JobTree) -> None:
    # With amazon-braket-sdk installed, a missing braket module is the script's own mistake.
    if not _job_python_has_the_sdk():
        pytest.skip(f"{PYTHON} has no amazon-braket-sdk")
    job.write("algo.py", "import braket.aws\nimport braket.no_such_module\n")
    outcome = job.run("algo")

    assert outcome.failure == (
        "AlgorithmError: ModuleNotFoundError: No module named 'braket.no_such_module', exit code: 1"
    )


def test_no_hint_where_an_image_has_its_own_braket_jobs(job: JobTree, tmp_path: Path) -> None:
    real = tmp_path / "real" / "braket" / "jobs"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("")
    job.write("algo.py", "import braket.tracking\n")
    extra = {"PYTHONPATH": os.pathsep.join([str(job.lib), str(tmp_path / "real")])}
    outcome = job.run("algo", options=("-S",), extra_env=extra)

    assert outcome.failure == (
        "AlgorithmError: ModuleNotFoundError: No module named 'braket.tracking', exit code: 1"
    )


# --- missing_sdk_hint, in process (where the SDK is installed) -------------------------------


def _site_of_braket() -> str:
    spec = importlib.util.find_spec("braket.jobs")
    assert spec is not None
    assert spec.origin is not None
    return str(Path(spec.origin).parents[2])


def test_hint_needs_a_braket_import_error() -> None:
    # Pretending the installed SDK is the shim makes it count as missing.
    as_if_shim = _site_of_braket()

    assert missing_sdk.missing_sdk_hint(ImportError("x", name="braket.aws"), as_if_shim) == HINT
    assert missing_sdk.missing_sdk_hint(ModuleNotFoundError("x", name="braket"), as_if_shim) == HINT
    assert missing_sdk.missing_sdk_hint(ImportError("x", name="braket_other"), as_if_shim) is None
    assert missing_sdk.missing_sdk_hint(ImportError("x"), as_if_shim) is None
    assert missing_sdk.missing_sdk_hint(ValueError("braket.aws"), as_if_shim) is None


def test_hint_is_none_with_the_sdk_installed() -> None:
    assert missing_sdk.missing_sdk_hint(ImportError("x", name="braket.aws"), None) is None
    assert missing_sdk.missing_sdk_hint(ImportError("x", name="braket.aws"), "/nowhere") is None


def test_hint_follows_causes_and_contexts_without_looping() -> None:
    as_if_shim = _site_of_braket()
    first = ValueError("first")
    second = KeyError("second")
    first.__context__ = second
    second.__context__ = first  # a cycle
    assert missing_sdk.missing_sdk_hint(first, as_if_shim) is None

    cause = ImportError("x", name="braket.tracking")
    wrapper = RuntimeError("wrapped")
    wrapper.__cause__ = cause
    outer = KeyError("outer")
    outer.__context__ = wrapper
    assert missing_sdk.missing_sdk_hint(outer, as_if_shim) == HINT
