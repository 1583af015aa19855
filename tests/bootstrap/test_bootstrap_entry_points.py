"""Running user code: module and function entry points, hyperparameters, the interpreter."""

from __future__ import annotations

import os

import pytest
from bootstrap_harness import JobTree

REPORT_ARGUMENTS = """
import json

def report(**values):
    print("RESULT " + json.dumps({k: [type(v).__name__, v] for k, v in values.items()}))
"""


def test_module_entry_point_runs_as_main(job: JobTree) -> None:
    job.write("algo/__init__.py", "")
    job.write(
        "algo/main.py",
        """
        import json, sys
        if __name__ == "__main__":
            print("RESULT " + json.dumps({"name": __name__, "argv": sys.argv}))
        """,
    )
    outcome = job.run("algo.main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {
        "name": "__main__",
        "argv": [str(job.code / "algo" / "main.py")],
    }
    assert outcome.failure is None


def test_package_entry_point_runs_its_main_module(job: JobTree) -> None:
    job.write("algo/__init__.py", "")
    job.write("algo/__main__.py", 'print("RESULT " + repr(__name__).replace("\'", \'"\'))')
    outcome = job.run("algo")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == "__main__"


def test_working_directory_and_sys_path_are_the_code_folder(job: JobTree) -> None:
    job.write("helper.py", "VALUE = 'from the code folder'")
    job.write(
        "algo.py",
        """
        import json, os, sys
        import helper
        import braket_async.jobs
        print("RESULT " + json.dumps({
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "helper": helper.VALUE,
            "api": braket_async.jobs.__file__,
            "bootstrap_folder_on_path": any(p.endswith(os.path.join("braket_async", "jobs"))
                                            for p in sys.path),
        }))
        """,
    )
    outcome = job.run("algo")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {
        "cwd": str(job.code),
        "path0": str(job.code),
        "helper": "from the code folder",
        "api": str(job.lib / "braket_async" / "jobs" / "__init__.py"),
        "bootstrap_folder_on_path": False,
    }


def test_user_code_sees_the_job_environment(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import json, os
        print("RESULT " + json.dumps(os.environ["AMZN_BRAKET_JOB_NAME"]))
        """,
    )
    outcome = job.run("algo")
    assert outcome.result_line() == "bootstrap-test"


def test_isolated_interpreter_runs_user_code_isolated_with_the_api(job: JobTree) -> None:
    # `-I` ignores PYTHONPATH: the bootstrap is started by path, and the child must still
    # be isolated and still find the in-job API.
    job.write(
        "algo.py",
        """
        import json, sys
        import braket_async.jobs
        print("RESULT " + json.dumps([sys.flags.isolated, braket_async.jobs.__file__]))
        """,
    )
    outcome = job.run("algo", options=("-I",), as_script=True)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == [1, str(job.jobs / "__init__.py")]


def test_function_entry_point_binds_typed_hyperparameters(job: JobTree) -> None:
    job.write(
        "algo.py",
        REPORT_ARGUMENTS
        + """
def main(shots: int, angle: float, verbose: bool, quiet: bool, label: str, untyped):
    report(shots=shots, angle=angle, verbose=verbose, quiet=quiet, label=label,
           untyped=untyped)
""",
    )
    job.set_hyperparameters(
        {
            "shots": "100",
            "angle": "0.25",
            "verbose": "True",
            "quiet": "FALSE",
            "label": "x",
            "untyped": "7",
        }
    )
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {
        "shots": ["int", 100],
        "angle": ["float", 0.25],
        "verbose": ["bool", True],
        "quiet": ["bool", False],
        "label": ["str", "x"],
        "untyped": ["str", "7"],
    }


def test_string_annotations_are_resolved(job: JobTree) -> None:
    job.write(
        "algo.py",
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING, Optional\n"
        "if TYPE_CHECKING:\n"
        "    from decimal import Decimal\n"
        + REPORT_ARGUMENTS
        + """
def main(shots: int, verbose: bool, seed: Optional[int] = None, depth: int | None = None,
         scale: Decimal | None = None):
    report(shots=shots, verbose=verbose, seed=seed, depth=depth, scale=scale)
""",
    )
    job.set_hyperparameters(
        {"shots": "5", "verbose": "false", "seed": "11", "depth": "2", "scale": "1.5"}
    )
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    # `Decimal` exists only for type checkers: that parameter gets the string, the
    # others still convert.
    assert outcome.result_line() == {
        "shots": ["int", 5],
        "verbose": ["bool", False],
        "seed": ["int", 11],
        "depth": ["int", 2],
        "scale": ["str", "1.5"],
    }


def test_var_keyword_function_accepts_all_hyperparameters(job: JobTree) -> None:
    job.write(
        "algo.py",
        REPORT_ARGUMENTS
        + """
def main(shots: int, **rest):
    report(shots=shots, **rest)

def typed(**rest: float):
    report(**rest)
""",
    )
    job.set_hyperparameters({"shots": "3", "a": "1", "b": "two"})
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {
        "shots": ["int", 3],
        "a": ["str", "1"],
        "b": ["str", "two"],
    }
    job.set_hyperparameters({"x": "1", "y": "2.5"})
    typed = job.run("algo:typed")
    assert typed.result_line() == {"x": ["float", 1.0], "y": ["float", 2.5]}


def test_hyperparameters_not_in_the_signature_are_left_out(job: JobTree) -> None:
    job.write(
        "algo.py",
        REPORT_ARGUMENTS
        + """
def without_parameters():
    report(called=True)

def some(shots: int):
    report(shots=shots)
""",
    )
    job.set_hyperparameters({"shots": "4", "unused": "x"})
    outcome = job.run("algo:without_parameters")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {"called": ["bool", True]}
    assert "['shots', 'unused']" in outcome.stderr
    assert job.run("algo:some").result_line() == {"shots": ["int", 4]}


def test_function_without_hyperparameters_file_is_called_without_arguments(
    job: JobTree,
) -> None:
    job.write("algo.py", REPORT_ARGUMENTS + "\ndef main(shots=1):\n    report(shots=shots)\n")
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == {"shots": ["int", 1]}


def test_function_module_is_imported_under_its_own_name(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import json, sys
        def main():
            print("RESULT " + json.dumps([__name__, sys.argv]))
        if __name__ == "__main__":
            raise AssertionError("the module must not run as __main__")
        """,
    )
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == ["algo", [str(job.code / "algo.py")]]


def test_coroutine_function_is_run_to_completion(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import asyncio
        async def main(shots: int):
            await asyncio.sleep(0)
            print(f"RESULT {shots}")
        """,
    )
    job.set_hyperparameters({"shots": "9"})
    outcome = job.run("algo:main")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.result_line() == 9


@pytest.mark.parametrize("code", ["", "import sys\nsys.exit(0)\n", "import sys\nsys.exit()\n"])
def test_success_writes_no_failure_file(job: JobTree, code: str) -> None:
    job.write("algo.py", code)
    outcome = job.run("algo")
    assert (outcome.returncode, outcome.failure) == (0, None)
    assert os.listdir(job.ml_root / "output") == []
