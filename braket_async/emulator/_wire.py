"""The Braket REST-JSON protocol, read from botocore's own service model.

Routes (method and ``requestUri``), where each input member comes from (path label,
query string, header or JSON body) and the input constraints (required members, lengths,
ranges, enums, patterns) all come from ``botocore/data/braket/*/service-2.json``, so the
emulator accepts exactly what an unmodified botocore client sends and refuses with a
``ValidationException`` what the service would refuse.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import attrs
import botocore.session  # type: ignore[import-untyped]
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape  # type: ignore[import-untyped]

from ._errors import ApiError, must_not_be_null, validation_error
from ._jobs import iso_millis

__all__ = ["Route", "braket_model", "find_route", "parse_request", "to_json"]

#: The operations the emulator answers; other model operations get a 404 route miss.
OPERATIONS = (
    "CancelJob",
    "CancelQuantumTask",
    "CreateJob",
    "CreateQuantumTask",
    "GetDevice",
    "GetJob",
    "GetQuantumTask",
    "ListTagsForResource",
    "SearchDevices",
    "SearchJobs",
    "SearchQuantumTasks",
    "TagResource",
    "UntagResource",
)


#: Members whose bad values Braket answers with ``BadRequestException: Invalid request
#: body`` (400) rather than a ``ValidationException``: what users of the real service
#: report for a job name with an underscore (amazon-braket-sdk-python issue 1096).
_BAD_REQUEST_MEMBERS = frozenset({"jobName"})


@functools.cache
def braket_model() -> ServiceModel:
    """botocore's service model of Braket (the newest API version installed)."""
    session = botocore.session.get_session()
    return ServiceModel(session.get_service_data("braket"), service_name="braket")


@attrs.frozen
class Route:
    """One operation's HTTP route, compiled from its ``requestUri``."""

    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]

    @property
    def name(self) -> str:
        """The operation's name, e.g. ``"CreateJob"``."""
        return str(self.operation.name)

    @property
    def status(self) -> int:
        """The status code of a successful answer."""
        return int(self.operation.http.get("responseCode", 200))


def _compile(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"].split("?", 1)[0]
    labels: list[str] = []
    regex = ""
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", uri):
        regex += re.escape(literal)
        if label:
            greedy = label.endswith("+")
            labels.append(label.rstrip("+"))
            # botocore percent-encodes non-greedy labels completely ("/" becomes %2F), so
            # the raw path's segments are split before decoding.
            regex += "(.+)" if greedy else "([^/]+)"
    return Route(operation, operation.http["method"], re.compile(regex), tuple(labels))


@functools.cache
def _routes() -> tuple[Route, ...]:
    model = braket_model()
    return tuple(_compile(model.operation_model(name)) for name in OPERATIONS)


def find_route(method: str, raw_path: str) -> Route | None:
    """The route of ``method`` on the undecoded path, or ``None``."""
    path = raw_path.split("?", 1)[0]
    for route in _routes():
        if route.method == method and route.pattern.fullmatch(path):
            return route
    return None


def parse_request(
    route: Route,
    raw_path: str,
    query: Mapping[str, Sequence[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input parameters (wire names), validated against the model.

    Raises ``ValidationException`` for bodies that are not JSON objects and for values
    that break the input shape's constraints.
    """
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    match = route.pattern.fullmatch(raw_path.split("?", 1)[0])
    assert match is not None
    labels = {
        name: urllib.parse.unquote(value)
        for name, value in zip(route.labels, match.groups(), strict=True)
    }
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            params[name] = labels[wire]
        elif location == "querystring":
            values = list(query.get(wire, ()))
            if values:
                params[name] = _from_text(member, values)
        elif location == "header":
            if wire in headers:
                params[name] = _from_text(member, [headers[wire]])
        else:
            body_members[name] = member
    if body_members and body.strip():
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise validation_error(f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise validation_error("Request body must be a JSON object")
        params.update({k: v for k, v in document.items() if k in body_members})
    errors: list[_Failure] = []
    _check(shape, params, "", errors)
    if any(error.path in _BAD_REQUEST_MEMBERS and not error.missing for error in errors):
        raise ApiError("BadRequestException", "Invalid request body")
    if errors:
        count = len(errors)
        plural = "error" if count == 1 else "errors"
        messages = "; ".join(error.message for error in errors)
        raise validation_error(f"{count} validation {plural} detected: {messages}")
    return params


class _Failure(NamedTuple):
    """A constraint a request breaks: where, the message, and whether it is a missing
    required member."""

    path: str
    message: str
    missing: bool = False


def _from_text(shape: Shape, values: list[str]) -> Any:
    if shape.type_name == "list":
        return values
    value = values[-1]
    if shape.type_name in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            return value  # refused by _check with the member's name
    return value


def _check(shape: Shape, value: Any, path: str, errors: list[_Failure]) -> None:
    """Append a failure per constraint of ``shape`` that ``value`` breaks."""
    where = path or shape.name
    meta = shape.metadata

    def fail(constraint: str) -> None:
        shown = value if isinstance(value, (str, int)) else json.dumps(value, default=str)
        message = f"Value '{shown}' at '{where}' failed to satisfy constraint: {constraint}"
        errors.append(_Failure(where, message))

    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            fail("Member must be an object")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                member = _join(path, name)
                errors.append(_Failure(member, must_not_be_null(member), missing=True))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), errors)
    elif kind == "list":
        if not isinstance(value, list):
            fail("Member must be a list")
            return
        _check_length(len(value), meta, fail)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}.{index + 1}.member", errors)
    elif kind == "map":
        if not isinstance(value, dict):
            fail("Member must be a map")
            return
        _check_length(len(value), meta, fail)
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", errors)
            _check(shape.value, item, f"{where}.{key}", errors)
    elif kind == "string":
        if not isinstance(value, str):
            fail("Member must be a string")
            return
        _check_length(len(value), meta, fail)
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        # The service's patterns are Java regular expressions matched against the whole
        # value; the ones in this model mean the same in Python.
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("Member must be an integer")
            return
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")
    elif kind == "boolean" and not isinstance(value, bool):
        fail("Member must be a boolean")


def _check_length(length: int, meta: Mapping[str, Any], fail: Any) -> None:
    if "min" in meta and length < meta["min"]:
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        fail(f"Member must have length less than or equal to {meta['max']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _default(value: object) -> str:
    if isinstance(value, datetime.datetime):
        # The model's timestamps are ``iso8601``: UTC with milliseconds, as the service sends.
        return iso_millis(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def to_json(document: Mapping[str, Any]) -> bytes:
    """A response body: JSON, datetimes as ISO 8601 UTC strings."""
    return json.dumps(document, default=_default).encode()
