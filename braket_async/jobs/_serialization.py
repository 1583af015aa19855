"""The persisted job data document: what ``results.json`` and checkpoint files hold.

The bytes match what the official SDK writes, so files move freely between the two: a JSON
object with the keys ``braketSchemaHeader``, ``dataDictionary`` and ``dataFormat`` in that
order, ``json.dumps`` default separators and ASCII escapes, no trailing newline. In
``pickled_v4`` documents every value is ``pickle.dumps(value, protocol=4)`` in MIME base64
(76-character lines, each ending in a newline).

The format is named by :class:`PersistedJobDataFormat`, or by the string ``"pickle"``,
which the official SDK accepts too (it takes any string) and which, despite its name, does
not pickle: the values are stored as JSON, as for plaintext, and the document records
``"dataFormat": "pickle"``. Only ``pickled_v4`` pickles.
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
from typing import Any, Literal, TypeAlias

__all__ = [
    "PLAINTEXT_NAMED_PICKLE",
    "DataFormat",
    "PersistedJobDataFormat",
    "decode_document",
    "deserialize_values",
    "encode_document",
    "serialize_values",
    "to_format",
]

_HEADER = {"name": "braket.jobs_data.persisted_job_data", "version": "1"}


class PersistedJobDataFormat(str, enum.Enum):
    """How the values of persisted job data are encoded."""

    PLAINTEXT = "plaintext"
    """Values are stored as JSON."""
    PICKLED_V4 = "pickled_v4"
    """Values are pickled with protocol 4, then base64-encoded."""


PLAINTEXT_NAMED_PICKLE: Literal["pickle"] = "pickle"
"""The format name ``"pickle"``: values stored as JSON under that name, as the official SDK
stores them (see the module doc)."""

DataFormat: TypeAlias = PersistedJobDataFormat | Literal["pickle"]
"""A format as documents record it: a member, or :data:`PLAINTEXT_NAMED_PICKLE`."""


def to_format(data_format: PersistedJobDataFormat | str) -> DataFormat:
    """Return ``data_format`` as a member, or as :data:`PLAINTEXT_NAMED_PICKLE` for ``"pickle"``.

    The official SDK's members and their values are accepted too. Other strings are
    refused, where the official SDK would store the values as JSON under that name.

    Raises:
        ValueError: ``data_format`` names no known format.
    """
    if data_format == PLAINTEXT_NAMED_PICKLE:
        return PLAINTEXT_NAMED_PICKLE
    try:
        return PersistedJobDataFormat(data_format)
    except ValueError:
        raise ValueError(
            f"unknown persisted data format {data_format!r}: expected "
            "PersistedJobDataFormat.PLAINTEXT or PersistedJobDataFormat.PICKLED_V4"
        ) from None


def _name(data_format: DataFormat) -> str:
    return data_format.value if isinstance(data_format, PersistedJobDataFormat) else data_format


def _pickle_value(value: Any) -> str:
    return base64.encodebytes(pickle.dumps(value, protocol=4)).decode("ascii")


def serialize_values(data: Mapping[str, Any], data_format: DataFormat) -> dict[str, Any]:
    """Return ``data`` with its values encoded for ``data_format`` (pickled for ``pickled_v4``)."""
    if data_format is PersistedJobDataFormat.PICKLED_V4:
        return {key: _pickle_value(value) for key, value in data.items()}
    return dict(data)


def deserialize_values(
    data: Mapping[str, Any], data_format: DataFormat, allow_pickle: bool
) -> dict[str, Any]:
    """Return ``data`` with its values decoded from ``data_format``.

    Only ``pickled_v4`` values are unpickled, and only with ``allow_pickle``.

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


def encode_document(data: Mapping[str, Any], data_format: DataFormat) -> str:
    """Return the document holding ``data``, whose values are already serialized.

    Raises:
        TypeError: A plaintext value has no JSON form.
    """
    document = {
        "braketSchemaHeader": _HEADER,
        "dataDictionary": data,
        "dataFormat": _name(data_format),
    }
    return json.dumps(document, default=_json_default)


def decode_document(text: str) -> tuple[dict[str, Any], DataFormat]:
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
