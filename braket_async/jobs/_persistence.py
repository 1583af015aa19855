"""Checkpoints and results, saved and loaded from inside a job.

Writes go to a temporary file that then replaces the target, so a job killed while saving
leaves the previous checkpoint intact instead of a truncated one (the official SDK opens
the target first: a value without a JSON form leaves it empty).

``data_format="pickle"`` is accepted as the official SDK accepts it, and writes the same
file: despite the name nothing is pickled. The values are stored as JSON, the file records
``"dataFormat": "pickle"``, and it loads without ``allow_pickle``. Pickle with
``PersistedJobDataFormat.PICKLED_V4``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._environment import get_checkpoint_dir, get_job_name, get_results_dir
from ._serialization import (
    DataFormat,
    PersistedJobDataFormat,
    decode_document,
    deserialize_values,
    encode_document,
    serialize_values,
    to_format,
)

__all__ = [
    "load_job_checkpoint",
    "load_job_result",
    "save_job_checkpoint",
    "save_job_result",
]

_RESULTS_FILE = "results.json"


def _check_name_part(value: str, what: str) -> None:
    # The part becomes a file name inside the checkpoint folder; a separator (either
    # kind, as files may be read on Windows too) or NUL could make it point elsewhere.
    if any(c in value for c in ("/", "\\", "\0")) or value in (".", ".."):
        raise ValueError(f"{what} {value!r} cannot be used in a checkpoint file name")


def _checkpoint_path(job_name: str, suffix: str) -> Path:
    _check_name_part(job_name, "job name")
    _check_name_part(suffix, "checkpoint_file_suffix")
    file_name = f"{job_name}_{suffix}.json" if suffix else f"{job_name}.json"
    return Path(get_checkpoint_dir()) / file_name


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would;
    # tempfile would make the file private to the job's user.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            # On disk before the rename, or a crash could leave an empty file in its place.
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _read_document(path: str | os.PathLike[str]) -> tuple[dict[str, Any], DataFormat]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return decode_document(text)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)} is not a valid job data file: {exc}") from exc


def save_job_checkpoint(
    checkpoint_data: dict[str, Any],
    checkpoint_file_suffix: str = "",
    data_format: PersistedJobDataFormat | str = PersistedJobDataFormat.PLAINTEXT,
) -> None:
    """Save ``checkpoint_data`` as the current job's checkpoint.

    The file is ``<checkpoint dir>/<job name>.json``, or ``<job name>_<suffix>.json`` when
    ``checkpoint_file_suffix`` is given, and replaces any earlier one.

    Args:
        checkpoint_data: The values to save.
        checkpoint_file_suffix: Names the checkpoint among several of the same job.
        data_format: ``PersistedJobDataFormat.PLAINTEXT`` (JSON), ``PICKLED_V4``, their
            values as strings, or ``"pickle"``, which stores JSON like plaintext (see the
            module documentation).

    Raises:
        ValueError: ``checkpoint_data`` is empty or ``None``, the format is unknown, or the
            job name or suffix would not make a plain file name.
        TypeError: ``checkpoint_data`` is not a mapping, or a plaintext value has no JSON
            form.
    """
    if not checkpoint_data:
        raise ValueError("checkpoint_data cannot be empty")
    if not isinstance(checkpoint_data, Mapping):
        raise TypeError(f"checkpoint_data must be a dict, not {type(checkpoint_data).__name__}")
    fmt = to_format(data_format)
    path = _checkpoint_path(get_job_name(), checkpoint_file_suffix)
    _write_atomically(path, encode_document(serialize_values(checkpoint_data, fmt), fmt))


def load_job_checkpoint(
    job_name: str | None = None,
    checkpoint_file_suffix: str = "",
    allow_pickle: bool = False,
) -> dict[str, Any]:
    """Load the checkpoint saved by ``job_name`` (default: the current job).

    Args:
        job_name: Whose checkpoint to load, from the checkpoint folder.
        checkpoint_file_suffix: The suffix it was saved with.
        allow_pickle: Unpickle ``pickled_v4`` data. Unpickling can run arbitrary code:
            only allow it for data you trust. Data saved with ``"pickle"`` is JSON and
            loads without it.

    Raises:
        FileNotFoundError: There is no such checkpoint.
        ValueError: The file is not a valid checkpoint, or the job name or suffix would
            not make a plain file name.
        RuntimeError: The data is pickled and ``allow_pickle`` is false.
    """
    path = _checkpoint_path(job_name or get_job_name(), checkpoint_file_suffix)
    values, fmt = _read_document(path)
    return deserialize_values(values, fmt, allow_pickle)


def load_job_result(
    filename: str | os.PathLike[str] | None = None, allow_pickle: bool = False
) -> dict[str, Any]:
    """Load job results saved with :func:`save_job_result`.

    Args:
        filename: The results file; default ``results.json`` in the job's results folder
            (the working directory outside a job). A missing file means no results yet
            and gives ``{}``.
        allow_pickle: Unpickle ``pickled_v4`` data. Unpickling can run arbitrary code:
            only allow it for data you trust. Data saved with ``"pickle"`` is JSON and
            loads without it.

    Raises:
        ValueError: The file is not a valid results file.
        RuntimeError: The data is pickled and ``allow_pickle`` is false.
    """
    try:
        values, fmt = _read_document(filename or Path(get_results_dir()) / _RESULTS_FILE)
    except FileNotFoundError:
        return {}
    return deserialize_values(values, fmt, allow_pickle)


def save_job_result(
    result_data: dict[str, Any] | Any,
    data_format: PersistedJobDataFormat | str | None = None,
) -> None:
    """Merge ``result_data`` into the job's ``results.json``.

    A value that is not a dict is saved as ``{"result": result_data}``. Keys already saved
    keep their place and take the new value. Results saved pickled stay pickled: with
    ``data_format=None`` new data follows the file's format (plaintext for a new file, or
    over ``"pickle"`` results), and saving pickled data over plaintext results pickles
    them all. As in the official SDK, ``"pickle"`` stores JSON under that name, except over
    ``pickled_v4`` results, which it keeps pickled.

    Raises:
        TypeError: The saved results are pickled and ``data_format`` is plaintext, or a
            plaintext value has no JSON form.
        ValueError: The format is unknown or the existing file is not a results file.
    """
    if not isinstance(result_data, dict):
        result_data = {"result": result_data}
    requested = None if data_format is None else to_format(data_format)
    path = Path(get_results_dir()) / _RESULTS_FILE
    try:
        saved, saved_format = _read_document(path)
    except FileNotFoundError:
        saved, saved_format = {}, PersistedJobDataFormat.PLAINTEXT

    fmt: DataFormat
    if saved_format is PersistedJobDataFormat.PICKLED_V4:
        if requested is PersistedJobDataFormat.PLAINTEXT:
            raise TypeError(
                "cannot add plaintext data to results saved as pickled_v4; "
                "save it with PersistedJobDataFormat.PICKLED_V4"
            )
        if not all(isinstance(value, str) for value in saved.values()):
            raise ValueError(f"{path} holds pickled values that are not base64 strings")
        fmt = PersistedJobDataFormat.PICKLED_V4
    else:
        fmt = requested or PersistedJobDataFormat.PLAINTEXT
        # Plaintext values saved earlier are plain JSON: encode them like the new ones.
        saved = serialize_values(saved, fmt)
    # Merging the encoded strings never unpickles what is already saved.
    merged = saved | serialize_values(result_data, fmt)
    _write_atomically(path, encode_document(merged, fmt))
