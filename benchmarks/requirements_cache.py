"""Jobs whose code has a ``requirements.txt``: the first job and the next, per runtime.

Run from the repository root::

    .venv/bin/python benchmarks/requirements_cache.py [--runtime process|docker|both]

The source is a folder with ``requirements.txt`` (a local wheel, ``--no-index``: no
network) and a module that imports the package. Timed, ``create()`` through ``result()``:

- **no requirements**: the same folder without ``requirements.txt`` (the floor);
- **first**: with requirements, a fresh environment cache (process runtime: a venv is
  made and the wheel installed);
- **second**: the same requirements again (process runtime: the cached environment;
  Docker: every container installs again).

It always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_IMAGE, load_average, ms, progress, table

from braket_async import LocalQuantumJob
from braket_async.runtimes import ProcessRuntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.wheels import build_wheel  # type: ignore[import-not-found]  # the tests' wheel


def make_source(folder: Path, requirements: bool) -> Path:
    source = folder / "algo"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    if requirements:
        wheel = build_wheel(source)
        (source / "requirements.txt").write_text(f"--no-index\n./{wheel.name}\n")
        body = "import tinypkg\nvalue = tinypkg.VALUE\n"
    else:
        body = "value = 42\n"
    (source / "main.py").write_text(
        body + "from braket_async.jobs import save_job_result\nsave_job_result({'v': value})\n"
    )
    return source


async def timed(source: Path, root: Path, name: str, options: dict[str, Any]) -> float:
    started = time.perf_counter()
    job = await LocalQuantumJob.create(
        "local:none/none", source, "algo.main", job_name=name, root=root, **options
    )
    result = await job.result()
    elapsed = time.perf_counter() - started
    if result != {"v": 42}:
        raise RuntimeError(f"{name}: {result} ({job.run_log[-500:]})")
    return elapsed


async def measure(runtime: str, image: str, work: Path) -> list[str]:
    plain = make_source(work / "plain", requirements=False)
    with_requirements = make_source(work / "deps", requirements=True)
    if runtime == "docker":
        options: dict[str, Any] = {
            "runtime": "docker",
            "image_uri": image,
            "network_mode": "none",
            "local_container_update": False,
        }
        await timed(plain, work / "jobs", "warm-up", options)
    else:
        options = {"runtime": ProcessRuntime(environment_cache=work / "cache")}
    floor = await timed(plain, work / "jobs", "plain", options)
    first = await timed(with_requirements, work / "jobs", "first", options)
    second = await timed(with_requirements, work / "jobs", "second", options)
    if runtime != "docker":
        await options["runtime"].aclose()
    return [runtime, ms(floor), ms(first), ms(second)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=["process", "docker", "both"], default="both")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    options = parser.parse_args()
    runtimes = ["process", "docker"] if options.runtime == "both" else [options.runtime]
    print(f"python {sys.version.split()[0]}; at the start: {load_average()}")
    rows = []
    for runtime in runtimes:
        progress(runtime)
        with tempfile.TemporaryDirectory(prefix="requirements-") as work:
            rows.append(await measure(runtime, options.image, Path(work)))
    table(
        "create() through result(), ms",
        ["runtime", "no requirements", "first with requirements", "second (same requirements)"],
        rows,
    )


if __name__ == "__main__":
    asyncio.run(main())
