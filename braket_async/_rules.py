"""The rules every job argument follows, local and remote alike: the service's.

What a local job accepts, Amazon Braket accepts too, so a program that runs locally runs
remotely. The limits are those of CreateJob in botocore's Braket model (hyperparameters,
device, S3 addresses) and of AWS tagging; where the model is silent the stricter reading
is taken (a hyperparameter value is a single line: the model's pattern is ``.*``, and the
service matches it as Java does, where ``.`` is no line terminator).

Waiting arguments are checked here too, once for every handle: an interval is a finite
number of seconds above 0; a timeout is 0 or more seconds, ``0`` meaning "look once,
do not wait" and ``math.inf`` "no limit".
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "LINE_BREAKS",
    "MAX_HYPERPARAMETERS",
    "MAX_HYPERPARAMETER_VALUE",
    "check_device",
    "check_hyperparameter_texts",
    "check_hyperparameters",
    "check_logger",
    "check_poll_interval",
    "check_poll_timeout",
    "check_role_arn",
    "check_tags",
    "parse_s3_uri",
]

#: CreateJob's hyperParameters: at most 100 entries, keys of 1 to 256 characters and
#: values of 1 to 2,500.
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500
#: What Java's ``.`` does not match: the service refuses these in a hyperparameter value.
LINE_BREAKS = re.compile("[\n\r\u0085\u2028\u2029]")
_MAX_DEVICE = 256
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_DEVICE_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:([a-z0-9\-]*):\d{0,12}:device/\S+$")
# AWS tagging: 50 tags a resource, keys of 1 to 128 characters, values of at most 256,
# and keys starting with "aws:" are AWS's own.
_MAX_TAGS = 50
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?$")
_HTTPS_S3_URI = re.compile(
    r"^https://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])\.s3[.\-][a-z0-9.\-]*amazonaws\.com(?:/(.*))?$"
)
_MAX_S3_URI = 1024


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_poll_interval(seconds: object) -> float:
    """``poll_interval_seconds`` as a float: a finite number of seconds above 0.

    Raises:
        ConfigurationError: It is not (0 would look without pause, NaN and infinity
            are no interval).
    """
    if not _is_number(seconds) or not 0 < float(seconds) < math.inf:  # type: ignore[arg-type]
        raise ConfigurationError(
            f"poll_interval_seconds must be a finite number of seconds above 0, not {seconds!r}"
        )
    return float(seconds)  # type: ignore[arg-type]


def check_poll_timeout(seconds: object) -> float:
    """``poll_timeout_seconds`` as a float: 0 or more seconds (0: look once and do not
    wait; ``math.inf``: no limit).

    Raises:
        ConfigurationError: It is negative, NaN or not a number.
    """
    if not _is_number(seconds) or not float(seconds) >= 0:  # type: ignore[arg-type]
        raise ConfigurationError(
            "poll_timeout_seconds must be a number of seconds, 0 or more (0: do not wait, "
            f"math.inf: no limit), not {seconds!r}"
        )
    return float(seconds)  # type: ignore[arg-type]


def check_device(device: object) -> str | None:
    """Check a device: a Braket device ARN, or ``local:<provider>/<name>``; its region.

    Returns:
        The ARN's region, or ``None`` (a local simulator, or a device of no region).

    Raises:
        ConfigurationError: It is neither, or longer than CreateJob takes.
    """
    if not isinstance(device, str) or not device or len(device) > _MAX_DEVICE:
        raise ConfigurationError(
            f"device must be a device ARN or 'local:<provider>/<name>' of 1 to {_MAX_DEVICE} "
            f"characters, not {_shown(device)}"
        )
    if device.startswith("local:"):
        return None
    match = _DEVICE_ARN.fullmatch(device)
    if match is None:
        raise ConfigurationError(
            f"Invalid device {device!r}: use a device ARN "
            "(arn:aws:braket:<region>::device/...) or 'local:<provider>/<name>'"
        )
    return match.group(1) or None


def check_role_arn(role_arn: object) -> str:
    """Return ``role_arn`` if it is an IAM role ARN, as CreateJob's pattern says.

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        raise ConfigurationError(
            f"Invalid role_arn {_shown(role_arn)}: expected arn:aws:iam::<account>:role/<name>"
        )
    return role_arn


def check_hyperparameters(hyperparameters: object) -> dict[str, str]:
    """The hyperparameters as the job gets them, ``str()`` of each key and value, checked
    against CreateJob's limits.

    Raises:
        ConfigurationError: Not a mapping, more than 100, a key of more than 256
            characters, a value (as text) empty, of more than 2,500 characters or of
            more than one line.
    """
    if hyperparameters is None:
        return {}
    if not isinstance(hyperparameters, Mapping):
        raise ConfigurationError(
            "hyperparameters must be a dict of names to values, not "
            f"{type(hyperparameters).__name__}"
        )
    result = {str(key): str(value) for key, value in hyperparameters.items()}
    check_hyperparameter_texts(result)
    return result


def check_hyperparameter_texts(hyperparameters: Mapping[str, str]) -> None:
    """Check hyperparameters that are text already (see :func:`check_hyperparameters`)."""
    if len(hyperparameters) > MAX_HYPERPARAMETERS:
        raise ConfigurationError(
            f"At most {MAX_HYPERPARAMETERS} hyperparameters are allowed "
            f"(got {len(hyperparameters)})"
        )
    for key, value in hyperparameters.items():
        if not 1 <= len(key) <= MAX_HYPERPARAMETER_KEY:
            raise ConfigurationError(
                f"Hyperparameter name {_shown(key)} must have 1 to {MAX_HYPERPARAMETER_KEY} "
                f"characters (got {len(key)})"
            )
        if not 1 <= len(value) <= MAX_HYPERPARAMETER_VALUE:
            raise ConfigurationError(
                f"Hyperparameter {_shown(key)}: its value, as a string, must have 1 to "
                f"{MAX_HYPERPARAMETER_VALUE} characters (got {len(value)}); pass bulk data "
                "as input_data"
            )
        if LINE_BREAKS.search(value):
            raise ConfigurationError(
                f"Hyperparameter {_shown(key)}: its value must be one line (the service "
                "refuses line breaks); encode it, e.g. as JSON"
            )


def check_tags(tags: object, *, reserved: tuple[str, ...] = ()) -> dict[str, str]:
    """Tags as AWS takes them: at most 50 (with the ``reserved`` keys the library adds),
    keys of 1 to 128 characters not starting with ``aws:``, values of at most 256.

    Raises:
        ConfigurationError: A rule is broken, or a ``reserved`` key is used.
    """
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in tags.items()
    ):
        raise ConfigurationError("tags must be a dict of non-empty strings to strings")
    for key in reserved:
        if key in tags:
            raise ConfigurationError(
                f"The tag {key!r} is braket_async's own (it carries the job's clientToken): "
                "choose another key"
            )
    room = _MAX_TAGS - len(reserved)
    if len(tags) > room:
        raise ConfigurationError(f"At most {room} tags are allowed (got {len(tags)})")
    for key, value in tags.items():
        if not 1 <= len(key) <= _MAX_TAG_KEY:
            raise ConfigurationError(
                f"Tag key {_shown(key)} must have 1 to {_MAX_TAG_KEY} characters"
            )
        if key.lower().startswith("aws:"):
            raise ConfigurationError(f"Tag key {key!r}: the prefix 'aws:' is reserved for AWS")
        if len(value) > _MAX_TAG_VALUE:
            raise ConfigurationError(
                f"Tag {key!r}: its value must have at most {_MAX_TAG_VALUE} characters "
                f"(got {len(value)})"
            )
    return dict(tags)


def parse_s3_uri(uri: object, what: str = "S3 URI") -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` or virtual-hosted ``https://`` URI.

    Raises:
        ConfigurationError: ``uri`` is not such a URI, or longer than the service takes.
    """
    match = None
    if isinstance(uri, str) and len(uri) <= _MAX_S3_URI:
        match = _S3_URI.fullmatch(uri) or _HTTPS_S3_URI.fullmatch(uri)
    if match is None:
        raise ConfigurationError(f"Invalid {what} {_shown(uri)}: expected s3://<bucket>/<key>")
    return match.group(1), match.group(2) or ""


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: a message must stay readable for a 1 MB value."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-15:]} ({len(text)} characters)"


def check_logger(logger: object) -> logging.Logger | logging.LoggerAdapter[Any]:
    """``logger=`` as the official SDK takes it: a :class:`logging.Logger` (or adapter).

    Raises:
        ConfigurationError: It is something else.
    """
    if not isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
        raise ConfigurationError(f"logger must be a logging.Logger, not {logger!r}")
    return logger
