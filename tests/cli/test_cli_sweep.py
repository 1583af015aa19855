"""``braket-async sweep`` (files in, resumable, the live display in a real terminal) and
``metrics --plot``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.cli import BRAKET_ASYNC, GATED, cli, one_line_error
from support.owning import wait_until
from support.terminal import tmux_screen


@pytest.fixture
def algorithm(tmp_path: Path) -> Path:
    source = tmp_path / "algorithm.py"
    source.write_text(GATED)
    return source


def test_a_grid_sweep_resumes_from_its_manifest(tmp_path: Path, algorithm: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"x": [1, 2, 3, 4]}))
    arguments = (
        "sweep", str(algorithm), "--grid", str(grid), "--manifest", str(tmp_path / "m.json"),
        "--name-prefix", "grid", "--root", str(tmp_path / "jobs"), "--json",
    )  # fmt: skip
    (tmp_path / "jobs").mkdir()
    swept = cli(*arguments, cwd=tmp_path)
    assert swept.code == 3  # x=3 fails
    points = json.loads(swept.out)
    assert [point["hyperparameters"] for point in points] == [{"x": x} for x in (1, 2, 3, 4)]
    assert [point["status"] for point in points] == ["COMPLETED"] * 2 + ["FAILED", "COMPLETED"]
    assert [point["result"] for point in points] == [
        {"doubled": 2}, {"doubled": 4}, None, {"doubled": 8}
    ]  # fmt: skip
    assert "three is not allowed" in points[2]["error"]
    assert "sweep: 3 of 4 points completed" in swept.err
    folders = sorted(os.listdir(tmp_path / "jobs"))
    assert len(folders) == 4

    again = cli(*arguments, cwd=tmp_path)  # the same command: nothing is run twice
    assert again.code == 3
    assert [p["jobArn"] for p in json.loads(again.out)] == [p["jobArn"] for p in points]
    assert sorted(os.listdir(tmp_path / "jobs")) == folders


def test_points_from_a_csv_file(tmp_path: Path, algorithm: Path) -> None:
    table = tmp_path / "points.csv"
    table.write_text("x,label\n1,one\n2,two\n")
    swept = cli("sweep", str(algorithm), "--points", str(table), "--json", cwd=tmp_path)
    assert swept.code == 0, swept.err
    points = json.loads(swept.out)
    assert [p["hyperparameters"] for p in points] == [
        {"x": "1", "label": "one"}, {"x": "2", "label": "two"}
    ]  # fmt: skip
    assert [p["result"] for p in points] == [{"doubled": 2}, {"doubled": 4}]


@pytest.mark.parametrize(
    ("name", "text", "flag", "message"),
    [
        ("grid.json", "[1, 2]", "--grid", "expected a JSON object of lists"),
        ("grid.json", '{"x": []}', "--grid", "'x' must be a non-empty list"),
        ("grid.json", "{not json", "--grid", "not JSON"),
        ("points.json", '{"x": 1}', "--points", "expected a JSON list of objects"),
        ("points.json", "[]", "--points", "no points"),
        ("points.csv", "x,x\n1,2\n", "--points", "must name each column once"),
        ("points.csv", "x,y\n1\n", "--points", "line 2 has not one value per column"),
        ("points.csv", "x\n", "--points", "no points"),
        ("missing.json", None, "--points", "missing.json"),
    ],
)
def test_bad_point_files_are_one_line_errors(
    tmp_path: Path, algorithm: Path, name: str, text: str | None, flag: str, message: str
) -> None:
    if text is not None:
        (tmp_path / name).write_text(text)
    failed = cli("sweep", str(algorithm), flag, str(tmp_path / name), cwd=tmp_path)
    assert failed.code == 1
    assert message in one_line_error(failed)
    assert not [entry for entry in os.listdir(tmp_path) if entry not in (name, "algorithm.py")]


def test_the_sweep_display_in_a_real_terminal(tmp_path: Path, algorithm: Path) -> None:
    grid = tmp_path / "grid.json"
    gate = tmp_path / "gate"
    grid.write_text(json.dumps({"x": [0, 1, 2, 3], "gate": [str(gate)]}))
    algorithm.write_text(GATED.replace("while gate and", "while x and gate and"))
    command = f"{BRAKET_ASYNC} sweep {algorithm} --grid {grid}; echo exit=$?; sleep 600"
    with tmux_screen(command, cwd=tmp_path) as screen:
        wait_until(lambda: "1 completed" in screen() and "3 running" in screen())
        assert "sweep: 1/4 done" in screen()
        gate.touch()
        wait_until(lambda: "exit=" in screen())
        final = screen()
        assert "sweep: 4/4 done" in final
        assert "3 completed" in final
        assert "1 failed" in final
        assert "three is not allowed" in final
        assert "braket-async: sweep: 3 of 4 points completed" in final
        assert "exit=3" in final
        assert final.count("sweep: 4/4") == 1  # redrawn in place


def test_metrics_plot_writes_a_png(tmp_path: Path, algorithm: Path) -> None:
    assert cli("run", str(algorithm), "-H", "x=4", "--name", "plotted", cwd=tmp_path).code == 0
    plotted = cli("metrics", "plotted", "--by", "iteration", "--plot", "cost.png", cwd=tmp_path)
    assert plotted.code == 0, plotted.err
    assert "plot written to cost.png" in plotted.err
    image = (tmp_path / "cost.png").read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(image) > 5000  # axes, a line and labels, not an empty canvas
    unwritable = cli("metrics", "plotted", "--plot", "no/such/dir/x.png", cwd=tmp_path)
    assert unwritable.code == 1
    assert "no/such/dir/x.png" in one_line_error(unwritable)
