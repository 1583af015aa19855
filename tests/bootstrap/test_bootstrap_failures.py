"""Failures: the failure file's line, the exit code and what reaches stderr."""

from __future__ import annotations

import pytest
from bootstrap_harness import JobTree


def test_uncaught_exception_is_reported_with_its_traceback(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        def check(value):
            raise ValueError("bad input")

        check(1)
        """,
    )
    outcome = job.run("algo")
    assert outcome.returncode == 1
    assert outcome.failure == "AlgorithmError: ValueError: bad input, exit code: 1"
    assert outcome.stderr.startswith("Traceback (most recent call last):\n")
    assert f'File "{job.code / "algo.py"}", line 5, in <module>' in outcome.stderr
    assert 'raise ValueError("bad input")' in outcome.stderr
    assert "ValueError: bad input\n" in outcome.stderr
    # The traceback starts at the user's code.
    assert "_bootstrap.py" not in outcome.stderr
    assert "runpy" not in outcome.stderr


def test_exception_in_function_entry_point(job: JobTree) -> None:
    job.write("algo.py", "def main():\n    raise KeyError('missing')\n")
    outcome = job.run("algo:main")
    assert outcome.returncode == 1
    assert outcome.failure == "AlgorithmError: KeyError: 'missing', exit code: 1"
    assert "in main\n" in outcome.stderr
    assert "_bootstrap.py" not in outcome.stderr


def test_exception_while_importing_function_module(job: JobTree) -> None:
    job.write("algo.py", "import not_installed_dependency\ndef main():\n    pass\n")
    outcome = job.run("algo:main")
    assert outcome.returncode == 1
    assert outcome.failure == (
        "AlgorithmError: ModuleNotFoundError: No module named 'not_installed_dependency', "
        "exit code: 1"
    )
    assert "import not_installed_dependency" in outcome.stderr
    assert "importlib" not in outcome.stderr


def test_exception_chain_is_printed(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        try:
            {}["key"]
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc
        """,
    )
    outcome = job.run("algo")
    assert outcome.failure == "AlgorithmError: RuntimeError: lookup failed, exit code: 1"
    assert "The above exception was the direct cause" in outcome.stderr


@pytest.mark.parametrize(
    ("raised", "reported"),
    [
        ("RuntimeError()", "RuntimeError"),
        ("ValueError('first line\\nsecond line')", "ValueError: first line second line"),
        ("ValueError('x' * 5000)", "ValueError: " + "x" * 897 + "..."),
    ],
)
def test_exception_message_becomes_one_line(job: JobTree, raised: str, reported: str) -> None:
    job.write("algo.py", f"raise {raised}\n")
    outcome = job.run("algo")
    assert outcome.failure == f"AlgorithmError: {reported}, exit code: 1"


@pytest.mark.parametrize("entry_point", ["algo", "algo:main"])
def test_sys_exit_with_code(job: JobTree, entry_point: str) -> None:
    job.write("algo.py", "import sys\ndef main():\n    sys.exit(3)\nmain()\n")
    outcome = job.run(entry_point)
    assert outcome.returncode == 3
    assert outcome.failure == "AlgorithmError: exit code: 3"
    assert "Traceback" not in outcome.stderr


def test_os_exit_is_an_exit_code(job: JobTree) -> None:
    job.write("algo.py", "import os\nos._exit(5)\n")
    outcome = job.run("algo")
    assert (outcome.returncode, outcome.failure) == (5, "AlgorithmError: exit code: 5")


def test_sys_exit_with_message(job: JobTree) -> None:
    job.write("algo.py", "import sys\nsys.exit('no convergence')\n")
    outcome = job.run("algo")
    assert outcome.returncode == 1
    assert outcome.failure == "AlgorithmError: SystemExit: no convergence, exit code: 1"
    assert "no convergence" in outcome.stderr


def test_failure_file_written_by_user_code_is_kept(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import sys
        with open("../output/failure", "w") as file:
            file.write("the optimizer diverged")
        sys.exit(4)
        """,
    )
    outcome = job.run("algo")
    assert (outcome.returncode, outcome.failure) == (4, "the optimizer diverged")


@pytest.mark.parametrize(
    "entry_point",
    [
        "algo.main:",
        "algo..main",
        "1algo",
        "algo:main:extra",
        "algo main",
        "algo/main.py",
        "algo:main()",
        ":main",
    ],
)
def test_bad_entry_point(job: JobTree, entry_point: str) -> None:
    outcome = job.run(entry_point)
    assert outcome.returncode == 2
    assert outcome.failure == (
        f"EntryPointError: invalid entry point {entry_point!r}: expected 'package.module' "
        "or 'package.module:function' made of Python identifiers"
    )


@pytest.mark.parametrize("entry_point", [None, "  "])
def test_missing_entry_point(job: JobTree, entry_point: str | None) -> None:
    outcome = job.run(entry_point)
    assert outcome.returncode == 2
    assert outcome.failure == "EntryPointError: AMZN_BRAKET_SCRIPT_ENTRY_POINT is not set"


@pytest.mark.parametrize(
    ("entry_point", "module"),
    [
        ("missing", "missing"),
        ("missing.sub:main", "missing.sub"),
        ("algo.sub", "algo.sub"),
        ("plain.sub", "plain.sub"),
    ],
)
def test_missing_module(job: JobTree, entry_point: str, module: str) -> None:
    job.write("algo/__init__.py", "")
    job.write("plain.py", "")
    outcome = job.run(entry_point)
    assert outcome.returncode == 2
    assert outcome.failure == (
        f"EntryPointError: module {module!r} of entry point {entry_point!r} not found"
    )


def test_package_without_main_module(job: JobTree) -> None:
    job.write("algo/__init__.py", "")
    outcome = job.run("algo")
    assert outcome.returncode == 2
    assert outcome.failure == (
        "EntryPointError: package 'algo' of entry point 'algo' has no __main__ module"
    )


def test_missing_function(job: JobTree) -> None:
    job.write("algo.py", "def main():\n    pass\n")
    outcome = job.run("algo:run")
    assert outcome.returncode == 2
    assert outcome.failure == (
        "EntryPointError: module 'algo' has no attribute 'run' (entry point 'algo:run')"
    )


def test_entry_point_that_is_not_callable(job: JobTree) -> None:
    job.write("algo.py", "main = 3\n")
    outcome = job.run("algo:main")
    assert outcome.returncode == 2
    assert outcome.failure == "EntryPointError: 'algo:main' is not callable (it is of type int)"


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        (
            {"shots": "ten", "verbose": "true"},
            "hyperparameter 'shots' = 'ten' is not a valid int (invalid literal for int() "
            "with base 10: 'ten')",
        ),
        (
            {"shots": "1", "verbose": "yes"},
            "hyperparameter 'verbose' = 'yes' is not a valid bool (expected 'true' or 'false')",
        ),
        (
            {"verbose": "true"},
            "cannot call algo:main with hyperparameters ['verbose']: "
            "missing a required argument: 'shots'",
        ),
    ],
)
def test_hyperparameters_that_do_not_fit(
    job: JobTree, hyperparameters: dict[str, str], reason: str
) -> None:
    job.write("algo.py", "def main(shots: int, verbose: bool = False):\n    print('called')\n")
    job.set_hyperparameters(hyperparameters)
    outcome = job.run("algo:main")
    assert outcome.returncode == 2
    assert outcome.failure == f"HyperparameterError: {reason}"
    assert "called" not in outcome.stdout


def test_unreadable_hyperparameters_file(job: JobTree) -> None:
    job.write("algo.py", "def main():\n    pass\n")
    job.set_hyperparameters({})
    (job.ml_root / "input" / "config" / "hyperparameters.json").write_text("[1, 2]")
    outcome = job.run("algo:main")
    assert outcome.returncode == 2
    assert outcome.failure == (
        f"HyperparameterError: {job.ml_root / 'input' / 'config' / 'hyperparameters.json'} "
        "does not hold a JSON object"
    )


def test_missing_code_folder(job: JobTree) -> None:
    job.code.rmdir()
    outcome = job.run("algo")
    assert outcome.returncode == 2
    assert outcome.failure == f"BootstrapError: the code folder {job.code} does not exist"


def test_output_folder_is_created_for_the_failure_file(job: JobTree) -> None:
    (job.ml_root / "output").rmdir()
    job.write("algo.py", "raise SystemExit(6)\n")
    outcome = job.run("algo")
    assert (outcome.returncode, outcome.failure) == (6, "AlgorithmError: exit code: 6")
