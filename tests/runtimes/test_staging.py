"""The job tree: the same files as a folder and as an archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from braket_async.errors import ConfigurationError
from braket_async.runtimes import JobSpec
from braket_async.runtimes._layout import job_environment
from braket_async.runtimes._staging import job_tree


def make_spec(tmp_path: Path) -> JobSpec:
    package = tmp_path / "algo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    data = tmp_path / "data.csv"
    data.write_text("1,2")
    return JobSpec(
        job_name="tree",
        job_arn="local:job/tree",
        device="local:none/none",
        entry_point="algo",
        code=[package],
        hyperparameters={"a": "1"},
        input_data={"train": data},
        environment={"AMZN_BRAKET_JOB_NAME": "overridden?", "EXTRA": "1"},
    )


def test_folder_and_archive_hold_the_same_files(tmp_path: Path) -> None:
    tree = job_tree(make_spec(tmp_path))
    root = tmp_path / "root"
    tree.write_to(root)
    on_disk = {
        "/" + str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }
    with tarfile.open(fileobj=io.BytesIO(tree.tar_bytes())) as archive:
        in_archive = {"/" + member.name for member in archive.getmembers() if member.isfile()}
        link = archive.getmember("opt/braket")
        assert link.issym()
        assert link.linkname == "ml"
    assert on_disk == in_archive
    assert "/opt/ml/code/algo/__init__.py" in on_disk
    assert not any("__pycache__" in path for path in on_disk)
    assert "/opt/ml/input/data/train/data.csv" in on_disk
    assert "/opt/braket_async/lib/braket_async/jobs/_bootstrap.py" in on_disk
    hyperparameters = root / "opt/braket/input/config/hyperparameters.json"
    assert json.loads(hyperparameters.read_text()) == {"a": "1"}
    assert (root / "opt/jobs/checkpoints").is_dir()


def test_the_job_contract_wins_over_extra_environment(tmp_path: Path) -> None:
    environment = job_environment(make_spec(tmp_path))
    assert environment["AMZN_BRAKET_JOB_NAME"] == "tree"
    assert environment["EXTRA"] == "1"
    assert environment["AMZN_BRAKET_HP_FILE"] == "/opt/braket/input/config/hyperparameters.json"
    assert environment["AMZN_BRAKET_INPUT_DIR"] == "/opt/braket/input/data"


@pytest.mark.parametrize("path", ["relative/dir", "/", "/opt/../etc"])
def test_checkpoint_path_must_be_an_absolute_folder(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigurationError):
        JobSpec(
            job_name="x",
            job_arn="local:job/x",
            device="d",
            entry_point="algo",
            code=[tmp_path],
            checkpoint_path=path,
        )
