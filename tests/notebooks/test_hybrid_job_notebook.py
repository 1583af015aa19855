"""A notebook written as the official hybrid job notebooks are, run in a real Jupyter
kernel against ``braket-async emulator`` started as its users start it: the lines it
prints are the kernel's environment. The notebook's ``await``s are its only difference
from the official style."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import nbclient
import nbformat
import pytest
from support.emulator_process import emulator_process

pytestmark = pytest.mark.anyio

NOTEBOOK = Path(__file__).with_name("hybrid_job_notebook.ipynb")

# Appended by the test, not part of the notebook: what the kernel ended with.
PROBE = """
import json
print(json.dumps({
    "jobs": [job.arn, continued_job.arn],
    "names": [previous_job_name, continued_job.name],
    "states": [str(await job.state()), str(await continued_job.state())],
    "params": [result["params"].tolist(), continued_result["params"].tolist()],
    "losses": [result["loss"], continued_result["loss"]],
    "start_iteration": continued_result["start_iteration"],
    "iterations": df_updated["iteration_number"].tolist(),
    "devices": [
        (await job.metadata())["deviceConfig"]["device"],
        (await continued_job.metadata())["deviceConfig"]["device"],
    ],
    "files": sorted(os.listdir(".")),
}))
"""


def errors(notebook: Any) -> list[str]:
    return [
        f"{output.ename}: {output.evalue}"
        for cell in notebook.cells
        for output in cell.get("outputs", ())
        if output.output_type == "error"
    ]


async def test_the_notebook_runs_against_the_emulator(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import os\n" + PROBE))
    workdir = tmp_path / "notebook"
    workdir.mkdir()
    async with emulator_process("--port", "0") as emulator:
        client = nbclient.NotebookClient(
            notebook, timeout=120, kernel_name="python3", allow_errors=True
        )
        with anyio.fail_after(240):
            await client.async_execute(cwd=str(workdir), env=emulator.shell())
    assert errors(notebook) == []
    summary = json.loads(notebook.cells[-1].outputs[0].text)
    assert summary["states"] == ["COMPLETED", "COMPLETED"]
    assert all(arn.startswith("arn:aws:braket:us-east-1:") for arn in summary["jobs"])
    assert summary["devices"] == ["local:braket/default"] * 2
    # The first job fitted 15 steps; the second went on from its checkpoint to 30.
    assert summary["start_iteration"] == 15
    assert summary["iterations"] == [float(i) for i in range(30)]
    first_loss, last_loss = summary["losses"]
    assert last_loss < first_loss < 1
    slope, intercept = summary["params"][1]
    assert abs(slope - 3) < 0.3
    assert abs(intercept - 1) < 0.2
    # Both metric plots were drawn; nothing but the notebook's own file is left here.
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", ())
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 2
    assert summary["files"] == ["input-data.txt"]
