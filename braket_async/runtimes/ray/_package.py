"""The Ray job's ``working_dir`` package: the keeper, its configuration and the job's tree.

Ray's client uploads a ``working_dir`` as a zip named after a hash of its contents
(``gcs://_ray_pkg_<hash>.zip``), which every node of the job downloads and unpacks once
into a folder that jobs with the same package share. Here the zip holds three members:
the keeper (``_keeper.py``), its configuration, and the job's tree (the one
``_staging.job_tree`` describes for every runtime) as one uncompressed tar, so that
links, modes and empty folders survive (a zip keeps none of them) and the keeper
unpacks it into a private folder of its own. Members are stored, not compressed: the
size that counts against the dashboard's limit is then known before the job starts,
and a big input is not compressed on every run.

The package is written to a temporary file (never held in memory) and named by its
SHA-256; it holds a random nonce, so no two jobs share a package.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ...errors import ConfigurationError
from .._base import JobSpec
from .._layout import (
    BOOTSTRAP_PATH,
    CODE_PATH,
    ENVIRONMENT_CACHE_VARIABLE,
    FAILURE_PATH,
    ML_ROOT,
    MODEL_PATH,
    job_environment,
)
from .._staging import JobTree, job_tree
from . import _keeper

__all__ = ["MAX_PACKAGE_BYTES", "Package", "build_package", "seal", "tree_size"]

#: The largest body the Ray dashboard takes (``DASHBOARD_CLIENT_MAX_SIZE``: 100 MiB;
#: more is answered ``413``).
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
#: What the keeper, its configuration and the zip's own structure take, at most.
_PACKAGE_OVERHEAD = 256 * 1024
_TAR_BLOCK = 512
_KEEPER_SOURCE = Path(_keeper.__file__)


@attrs.frozen
class Package:
    """A package file ready to upload.

    Attributes:
        path: The zip, in a temporary folder of its own (remove it with :meth:`remove`).
        name: ``_ray_pkg_<sha256>.zip``.
        size: Its size in bytes.
    """

    path: Path
    name: str
    size: int

    @property
    def uri(self) -> str:
        """The ``working_dir`` URI of the package."""
        return f"gcs://{self.name}"

    def remove(self) -> None:
        """Remove the package file and its folder (blocking)."""
        for path in (self.path, self.path.parent):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(path) if path.is_dir() else os.unlink(path)


def tree_size(tree: JobTree) -> int:
    """The size of ``tree`` as an uncompressed tar archive, near enough (blocking)."""
    size = 2 * _TAR_BLOCK
    for item in tree.items():
        # A header, a PAX header for long names, the contents padded to blocks.
        size += 3 * _TAR_BLOCK + -(-item.size // _TAR_BLOCK) * _TAR_BLOCK
    return size


def layout(spec: JobSpec) -> dict[str, Any]:
    """Where things are inside the job, for the keeper, which makes them paths of its
    workspace; and the job contract's variables that are not paths."""
    marked = job_environment(attrs.evolve(spec, environment={}), lambda path: "\0" + path)
    plain = job_environment(attrs.evolve(spec, environment={}))
    return {
        "paths": {name: plain[name] for name in plain if marked[name] != plain[name]},
        "values": {name: plain[name] for name in plain if marked[name] == plain[name]},
        "bootstrap": BOOTSTRAP_PATH,
        "ml_root": ML_ROOT,
        "code": CODE_PATH,
        "model": MODEL_PATH,
        "checkpoints": spec.checkpoint_path,
        "failure": FAILURE_PATH,
        "cache_variable": ENVIRONMENT_CACHE_VARIABLE,
    }


def seal(environment: Mapping[str, str]) -> tuple[str, str]:
    """The job's environment as sealed bytes and their one-time key (both base64).

    The sealed bytes travel in the package (readable by code on the cluster), the key in
    the Ray job's ``env_vars`` (readable through the dashboard): either alone says
    nothing of the other (a one-time pad), so credentials never appear in either.
    """
    if not environment:
        return "", ""
    data = json.dumps(dict(environment)).encode()
    key = secrets.token_bytes(len(data))
    sealed = bytes(a ^ b for a, b in zip(data, key, strict=True))
    return base64.b64encode(sealed).decode(), base64.b64encode(key).decode()


def build_package(
    spec: JobSpec,
    config: dict[str, Any],
    *,
    with_tree: bool,
    limit: int = MAX_PACKAGE_BYTES,
) -> Package:
    """Write the package of ``spec`` (blocking): the keeper, ``config`` (to which the
    job's layout is added) and, ``with_tree``, the job's tree.

    Raises:
        ConfigurationError: The package is larger than ``limit``.
    """
    folder = Path(tempfile.mkdtemp(prefix="braket-async-ray-package-"))
    path = folder / "package.zip"
    config = {**config, "layout": layout(spec)}
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.write(_KEEPER_SOURCE, _keeper.KEEPER_FILE)
            archive.writestr(_keeper.CONFIG_FILE, json.dumps(config))
            if with_tree:
                with archive.open(_keeper.TREE_FILE, "w", force_zip64=True) as member:
                    job_tree(spec).write_tar(member)  # type: ignore[arg-type]
        size = path.stat().st_size
        if size > limit:
            raise ConfigurationError(too_big(spec, size, limit))
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except BaseException:
        Package(path, "", 0).remove()
        raise
    return Package(path, f"_ray_pkg_{digest.hexdigest()[:32]}.zip", size)


def too_big(spec: JobSpec, size: int, limit: int) -> str:
    """Why a job whose package would be ``size`` bytes cannot go as one."""
    return (
        f"job {spec.job_name}: its code and input come to {size / 2**20:.1f} MiB, more than "
        f"the {limit / 2**20:.0f} MiB a Ray package may hold (the dashboard answers 413): "
        "give RayRuntime a storage='s3://bucket/prefix' for bigger jobs"
    )


def fits(spec: JobSpec, limit: int = MAX_PACKAGE_BYTES) -> bool:
    """Whether the tree of ``spec`` fits in a package (blocking: walks the files)."""
    return tree_size(job_tree(spec)) + _PACKAGE_OVERHEAD <= limit
