"""``braket-async run`` and ``sweep`` with ``--target ray``, as a user types them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.cli import GATED, cli, one_line_error
from support.ray_cluster import RayCluster


def test_run_and_sweep_on_the_cluster(cluster: RayCluster, tmp_path: Path) -> None:
    (tmp_path / "gated.py").write_text(GATED)
    # The nodes' python3 is the cluster's (its PATH), as RayRuntime's default expects.
    environment = {**os.environ, "RAY_ADDRESS": cluster.address}
    run = cli(
        "run", "gated.py", "--target", "ray", "-H", "x=2", "--root", "jobs",
        cwd=tmp_path, env=environment,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.out.splitlines() == ["started x=2", *run.out.splitlines()[1:4], "done x=2"]
    name = run.err.split("created job ", 1)[1].split()[0]
    status = cli("status", name, "--root", "jobs", "--json", cwd=tmp_path)
    assert json.loads(status.out)["rayJob"]["address"] == cluster.address

    (tmp_path / "grid.json").write_text(json.dumps({"x": [1, 3]}))
    swept = cli(
        "sweep", "gated.py", "--grid", "grid.json", "--target", "ray",
        "--ray-address", cluster.address, "--root", "jobs", "--json",
        cwd=tmp_path, env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip
    assert swept.code == 3, swept.err  # the point x=3 failed
    states = [point["status"] for point in json.loads(swept.out)]
    assert states == ["COMPLETED", "FAILED"]


def test_a_ray_address_for_another_target_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "gated.py").write_text(GATED)
    finished = cli(
        "run", "gated.py", "--ray-address", "http://127.0.0.1:1", cwd=tmp_path
    )  # fmt: skip
    assert finished.code == 1
    assert one_line_error(finished).endswith("--ray-address is for --target ray")
