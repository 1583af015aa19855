"""The persisted job data document: what ``results.json`` and checkpoint files hold.

The bytes match what the official SDK writes, so files move freely between the two: a JSON
object with the keys ``braketSchemaHeader``, ``dataDictionary`` and ``dataFormat`` in that
order, ``json.dumps`` default separators and ASCII escapes, no trailing newline. In
``pickled_v4`` documents every value is ``pickle.dumps(value, protocol=4)`` in MIME base64
(76-character lines, each ending in a newline).
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import datetime
import decimal
import enum
import json
import pathlib
import pickle
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PersistedJobDataFormat",
    "decode_document",
    "deserialize_values",
    "encode_document",
    "serialize_values",
]

_HEADER = {"name": "braket.jobs_data.persisted_job_data", "version": "1"}


class PersistedJobDataFormat(str, enum.Enum):
    """How the values of persisted job data are encoded."""

    PLAINTEXT = "plaintext"
    """Values are stored as JSON."""
    PICKLED_V4 = "pickled_v4"
    """Values are pickled with protocol 4, then base64-encoded."""


def to_format(data_format: PersistedJobDataFormat | str) -> PersistedJobDataFormat:
    """Return ``data_format`` as a member; the official SDK's members are accepted too.

    Raises:
        ValueError: ``data_format`` names no known format.
    """
    try:
        return PersistedJobDataFormat(data_format)
    except ValueError:
        raise ValueError(f"unknown persisted data format {data_format!r}") from None


def _pickle_value(value: Any) -> str:
    return base64.encodebytes(pickle.dumps(value, protocol=4)).decode("ascii")


def serialize_values(
    data: Mapping[str, Any], data_format: PersistedJobDataFormat
) -> dict[str, Any]:
    """Return ``data`` with its values encoded for ``data_format``."""
    if data_format is PersistedJobDataFormat.PICKLED_V4:
        return {key: _pickle_value(value) for key, value in data.items()}
    return dict(data)


def deserialize_values(
    data: Mapping[str, Any], data_format: PersistedJobDataFormat, allow_pickle: bool
) -> dict[str, Any]:
    """Return ``data`` with its values decoded from ``data_format``.

    Raises:
        RuntimeError: The values are pickled and ``allow_pickle`` is false; nothing is
            unpickled.
        ValueError: A pickled value is not valid base64 or not a valid pickle.
    """
    if data_format is not PersistedJobDataFormat.PICKLED_V4:
        return dict(data)
    if not allow_pickle:
        raise RuntimeError(
            "the data is pickled (pickled_v4) and unpickling is disabled, because it can run "
            "arbitrary code; pass allow_pickle=True only if you trust where the data came from"
        )
    values: dict[str, Any] = {}
    for key, encoded in data.items():
        if not isinstance(encoded, str):
            raise ValueError(f"pickled value of {key!r} is not a base64 string")
        try:
            values[key] = pickle.loads(base64.decodebytes(encoded.encode("ascii")))
        except (binascii.Error, UnicodeEncodeError, pickle.UnpicklingError, EOFError) as exc:
            raise ValueError(f"pickled value of {key!r} cannot be decoded: {exc}") from exc
    return values


def _json_default(value: Any) -> Any:
    # The official SDK serializes through pydantic, which also accepts these common
    # non-JSON types; encoding them the same way keeps scripts that rely on it working and
    # the files identical.
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | collections.deque):
        return list(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, pathlib.PurePath | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(
        f"a value of type {type(value).__name__} cannot be stored as plaintext (JSON); "
        "use PersistedJobDataFormat.PICKLED_V4"
    )


def encode_document(data: Mapping[str, Any], data_format: PersistedJobDataFormat) -> str:
    """Return the document holding ``data``, whose values are already serialized.

    Raises:
        TypeError: A plaintext value has no JSON form.
    """
    document = {
        "braketSchemaHeader": _HEADER,
        "dataDictionary": data,
        "dataFormat": data_format.value,
    }
    return json.dumps(document, default=_json_default)


def decode_document(text: str) -> tuple[dict[str, Any], PersistedJobDataFormat]:
    """Return the still-serialized values of a document and their format.

    Raises:
        ValueError: ``text`` is not a persisted job data document.
    """
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("persisted job data is not a JSON object")
    header = document.get("braketSchemaHeader", _HEADER)
    if not isinstance(header, dict) or any(header.get(k) != v for k, v in _HEADER.items()):
        raise ValueError(f"persisted job data has an unexpected schema header {header!r}")
    values = document.get("dataDictionary")
    if not isinstance(values, dict):
        raise ValueError("persisted job data has no dataDictionary object")
    if "dataFormat" not in document:
        raise ValueError("persisted job data has no dataFormat")
    return values, to_format(document["dataFormat"])
