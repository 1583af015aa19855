"""Local ``input_data`` of ``@hybrid_job``: the function opens it at the relative paths it
was given, as with the official decorator (files, folders, prefixes), on local process
jobs; the links are gone after the call, and a hostile function cannot make their
removal touch anything outside the job."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from braket_async import JobFailedError, hybrid_job
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio


def read_files(*paths: str) -> dict[str, Any]:
    """Read ``paths`` relative to the working folder; what is there after the call."""
    found = {}
    for path in paths:
        try:
            with open(path) as file:
                found[path] = file.read()
        except FileNotFoundError:
            found[path] = None
    return found


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The caller's current folder, with data files in it."""
    folder = tmp_path / "cwd"
    (folder / "graphs" / "sub").mkdir(parents=True)
    (folder / "graphs" / "a.txt").write_text("A")
    (folder / "graphs" / "sub" / "b.txt").write_text("B")
    (folder / "runs" / "run_2").mkdir(parents=True)
    (folder / "runs" / "run_1.txt").write_text("one")
    (folder / "runs" / "run_2" / "x.txt").write_text("two")
    (folder / "runs" / "other.txt").write_text("not matched")
    (folder / "input-data.adjlist").write_text("0 1\n1 2\n")
    (folder / "inputs" / "deep").mkdir(parents=True)
    (folder / "inputs" / "deep" / "data.csv").write_text("x,y\n")
    monkeypatch.chdir(folder)
    return folder


def local(root: Path, **options: Any) -> Any:
    return hybrid_job(device=None, local=True, root=root, **options)


async def test_a_file_is_where_the_function_opens_it(cwd: Path, jobs_root: Path) -> None:
    run = local(jobs_root, input_data="input-data.adjlist")(read_files)
    job = await run("input-data.adjlist")
    assert await job.result() == {"input-data.adjlist": "0 1\n1 2\n"}
    # The link was made (the job's log says so) and is not collected with the results.
    assert "input-data.adjlist -> " in (job.run_log or "")
    assert not (job.folder / "input-data.adjlist").is_symlink()
    assert not (job.folder / "input-data.adjlist").exists()


async def test_folders_prefixes_and_channels(cwd: Path, jobs_root: Path) -> None:
    paths = ("graphs/a.txt", "graphs/sub/b.txt", "runs/run_1.txt", "runs/run_2/x.txt")
    run = local(jobs_root, input_data={"graphs": "graphs", "runs": "runs/run_"})(read_files)
    job = await run(*paths, "runs/other.txt", "inputs/deep/data.csv")
    assert await job.result() == {
        "graphs/a.txt": "A",
        "graphs/sub/b.txt": "B",
        "runs/run_1.txt": "one",
        "runs/run_2/x.txt": "two",
        "runs/other.txt": None,  # not matched by the prefix
        "inputs/deep/data.csv": None,  # not input data
    }
    # Nothing of the links is collected; the input data is untouched.
    assert not (job.folder / "graphs").exists()
    assert not (job.folder / "runs").exists()
    assert (cwd / "runs" / "run_1.txt").read_text() == "one"


async def test_a_deep_path_and_a_folder_with_a_trailing_slash(cwd: Path, jobs_root: Path) -> None:
    run = local(jobs_root, input_data={"deep": "inputs/deep/data.csv", "g": "graphs/"})
    job = await run(read_files)("inputs/deep/data.csv", "graphs/a.txt")
    assert await job.result() == {"inputs/deep/data.csv": "x,y\n", "graphs/a.txt": "A"}
    assert not (job.folder / "inputs").exists()  # the folders made for the link are gone


async def test_what_is_not_linked_is_said_and_still_an_input_channel(
    cwd: Path, jobs_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def channel_files() -> dict[str, list[str]]:
        import os

        from braket_async.jobs import get_input_data_dir

        return {name: sorted(os.listdir(get_input_data_dir(name))) for name in ("abs", "up")}

    logger = logging.getLogger("test.hybrid_job.input")
    caplog.set_level(logging.INFO, logger=logger.name)
    (cwd.parent / "above.txt").write_text("above")
    options = {"abs": str(cwd / "graphs"), "up": "../above.txt"}
    job = await local(jobs_root, input_data=options, logger=logger)(channel_files)()
    assert await job.result() == {"abs": ["a.txt", "sub"], "up": ["above.txt"]}
    notes = [record.getMessage() for record in caplog.records]
    assert any(f"{str(cwd / 'graphs')!r} is not linked" in note for note in notes)
    assert any("'../above.txt' is not linked" in note for note in notes)
    assert any(f"Created hybrid job local:job/{job.name}" in note for note in notes)


@pytest.mark.parametrize(
    ("input_data", "message"),
    [
        ({"a": "input-data.adjlist", "b": "input-data.adjlist"}, "would both be linked"),
        ({"a": "graphs", "b": "graphs/a.txt"}, "would both be linked"),
        ("no-such-prefix", "nothing matches 'no-such-prefix'"),
        ("input-data.adjlist/", "is not a folder"),
        ({"bad/name": "graphs"}, "Invalid input channel name"),
    ],
)
async def test_bad_input_data_is_refused_before_any_job(
    cwd: Path, jobs_root: Path, input_data: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await local(jobs_root, input_data=input_data)(read_files)()
    assert os.listdir(jobs_root) == []


async def test_a_function_cannot_turn_the_links_removal_outside(
    cwd: Path, jobs_root: Path, tmp_path: Path
) -> None:
    """The function swaps the folder that holds its link for a link to a folder outside
    the job, holding a link with the same target: removing the input links must not
    remove it (nor anything else out there)."""

    def swap(outside: str) -> None:
        import os

        target = os.readlink("inputs/deep/data.csv")
        os.rename("inputs", "moved")
        os.makedirs(os.path.join(outside, "deep"))
        os.symlink(target, os.path.join(outside, "deep", "data.csv"))
        os.symlink(outside, "inputs")

    outside = tmp_path / "outside"
    job = await local(jobs_root, input_data="inputs/deep/data.csv")(swap)(str(outside))
    with pytest.raises(JobFailedError) as failed:
        await job.result()
    assert (outside / "deep" / "data.csv").is_symlink()  # not removed through the link
    # The links the function left in its results are refused, as every link out is.
    assert "model/inputs: a link to the absolute path" in (failed.value.failure_reason or "")
