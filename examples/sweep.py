"""A 50-point sweep of local jobs with the live progress display, resumable.

python examples/sweep.py [--manifest sweep.json]

Interrupt it (Ctrl-C) and run it again with the same manifest: it attaches to the jobs
that ran on and creates only the missing ones.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from braket_async import sweep

ALGORITHM = Path(__file__).parent / "algorithm" / "sweep_algorithm.py"


async def main(manifest: str | None, progress: bool | None, root: Path) -> None:
    points = await sweep(
        ALGORITHM,
        grid={"learning_rate": [0.05 * n for n in range(1, 11)], "steps": [2, 3, 4, 5, 6]},
        target="process",
        max_concurrent_jobs=4,
        manifest=manifest,
        progress=progress,  # None: shown when standard output is a terminal
        root=root,  # part of the sweep's arguments: a resumed sweep uses the same
    )
    best = min((p for p in points if p.ok), key=lambda p: p.result["energy"])  # type: ignore[index]
    print(f"{sum(p.ok for p in points)} of {len(points)} points completed")
    print(f"best: {best.hyperparameters} -> energy {best.result['energy']:.4f}")  # type: ignore[index]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", help="a file that makes the sweep resumable")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "braket-async-sweep",
        help="the folder of the jobs' folders",
    )
    arguments = parser.parse_args()
    arguments.root.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(arguments.manifest, arguments.progress, arguments.root))
