"""``create()``'s config objects, ours or the official SDK's, read as ours and checked.

Both handles take :mod:`braket_async.config`'s classes (snake_case) and the official
SDK's ``braket.jobs.config`` dataclasses (camelCase), and check them by the same rules,
the service's (:mod:`._rules`): a config that passes for a local job passes for a remote
one. What a local job cannot use (an S3 input) the local side refuses itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._braket import DEFAULT_CHECKPOINT_PATH, DEFAULT_MAX_RUNTIME_SECONDS
from ._names import validate_channel_name
from ._rules import parse_s3_uri
from .config import (
    CheckpointConfig,
    InstanceConfig,
    OutputDataConfig,
    S3DataSourceConfig,
    StoppingCondition,
)
from .errors import ConfigurationError

__all__ = [
    "Channel",
    "read_checkpoint_config",
    "read_input_data",
    "read_instance_config",
    "read_output_data_config",
    "read_stopping_condition",
]

#: CreateJob's inputDataConfig takes at most 20 channels.
_MAX_CHANNELS = 20
_MAX_CHECKPOINT_PATH = 4096
_MAX_CONTENT_TYPE = 256


@attrs.frozen(kw_only=True)
class Channel:
    """One input channel: local data (a file or folder that exists), or data in S3."""

    name: str
    local_path: Path | None = None
    s3_uri: str | None = None
    content_type: str | None = None


def _field(value: object, ours: type, snake: str, camel: str, parameter: str) -> Any:
    """A config field of ours (snake_case) or of the official SDK's dataclass (camelCase)."""
    if isinstance(value, ours):
        return getattr(value, snake)
    if hasattr(value, camel):
        return getattr(value, camel)
    raise ConfigurationError(
        f"{parameter} must be a braket_async.config.{ours.__name__} (or the official "
        f"SDK's), not {type(value).__name__}"
    )


def _positive_int(value: object, what: str, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be a positive integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{what} must be at most {maximum}, not {value}")
    return value


def read_instance_config(value: object | None) -> InstanceConfig:
    """``instance_config``, checked (default: one ``ml.m5.large`` with 30 GB)."""
    if value is None:
        return InstanceConfig()
    instance_type = _field(
        value, InstanceConfig, "instance_type", "instanceType", "instance_config"
    )
    if not isinstance(instance_type, str) or not instance_type:
        raise ConfigurationError(f"Invalid instance type {instance_type!r}")
    return InstanceConfig(
        instance_type=instance_type,
        instance_count=_positive_int(
            _field(value, InstanceConfig, "instance_count", "instanceCount", "instance_config"),
            "instance_count",
        ),
        volume_size_in_gb=_positive_int(
            _field(value, InstanceConfig, "volume_size_in_gb", "volumeSizeInGb", "instance_config"),
            "volume_size_in_gb",
        ),
    )


def read_stopping_condition(value: object | None) -> StoppingCondition:
    """``stopping_condition``, checked (default: five days, the service's maximum)."""
    if value is None:
        return StoppingCondition()
    seconds = _field(
        value,
        StoppingCondition,
        "max_runtime_in_seconds",
        "maxRuntimeInSeconds",
        "stopping_condition",
    )
    return StoppingCondition(
        max_runtime_in_seconds=_positive_int(
            seconds, "max_runtime_in_seconds", DEFAULT_MAX_RUNTIME_SECONDS
        )
    )


def read_output_data_config(value: object | None) -> OutputDataConfig:
    """``output_data_config``, checked (an S3 prefix, if any, and a KMS key id)."""
    if value is None:
        return OutputDataConfig()
    s3_path = _field(value, OutputDataConfig, "s3_path", "s3Path", "output_data_config")
    kms_key_id = _field(value, OutputDataConfig, "kms_key_id", "kmsKeyId", "output_data_config")
    if s3_path is not None:
        parse_s3_uri(s3_path, "output_data_config.s3_path")
    if kms_key_id is not None and (
        not isinstance(kms_key_id, str) or not 1 <= len(kms_key_id) <= 2048
    ):
        raise ConfigurationError(f"Invalid kms_key_id {kms_key_id!r}")
    return OutputDataConfig(s3_path=s3_path or None, kms_key_id=kms_key_id)


def read_checkpoint_config(value: object | None) -> CheckpointConfig:
    """``checkpoint_config``, checked: an absolute folder in the job and an S3 URI, if any."""
    if value is None:
        return CheckpointConfig()
    local_path = _field(value, CheckpointConfig, "local_path", "localPath", "checkpoint_config")
    s3_uri = _field(value, CheckpointConfig, "s3_uri", "s3Uri", "checkpoint_config")
    if local_path is None:
        local_path = DEFAULT_CHECKPOINT_PATH
    if (
        not isinstance(local_path, str)
        or not local_path.startswith("/")
        or len(local_path) > _MAX_CHECKPOINT_PATH
        or "\0" in local_path
    ):
        raise ConfigurationError(
            f"Invalid checkpoint local_path {local_path!r}: use an absolute path in the job"
        )
    if s3_uri is not None:
        parse_s3_uri(s3_uri, "checkpoint_config.s3_uri")
    return CheckpointConfig(local_path=local_path, s3_uri=s3_uri or None)


def read_input_data(input_data: object) -> tuple[Channel, ...]:
    """``input_data`` as channels: a location (channel ``"input"``) or a dict of channel
    name to location; a location is a local path that exists, an S3 URI, or an
    ``S3DataSourceConfig`` (ours or the official SDK's)."""
    if input_data is None:
        return ()
    if not isinstance(input_data, Mapping):
        input_data = {"input": input_data}
    if len(input_data) > _MAX_CHANNELS:
        raise ConfigurationError(
            f"At most {_MAX_CHANNELS} input channels are allowed (got {len(input_data)})"
        )
    return tuple(_channel(name, location) for name, location in input_data.items())


def _channel(name: object, location: object) -> Channel:
    if not isinstance(name, str):
        raise ConfigurationError(f"Input channel names must be strings, not {name!r}")
    validate_channel_name(name)
    if isinstance(location, S3DataSourceConfig):
        return _s3_channel(name, location.s3_data, location.content_type)
    official = getattr(location, "config", None)
    if isinstance(official, Mapping):  # the official SDK's S3DataSourceConfig
        try:
            uri = official["dataSource"]["s3DataSource"]["s3Uri"]
        except (KeyError, TypeError):
            raise ConfigurationError(f"Input channel {name!r}: no s3Uri in its config") from None
        return _s3_channel(name, uri, official.get("contentType"))
    if not isinstance(location, (str, os.PathLike)):
        raise ConfigurationError(
            f"Input channel {name!r}: use a local path, an S3 URI or an S3DataSourceConfig"
        )
    text = os.fspath(location)
    if not isinstance(text, str):
        raise ConfigurationError(f"Input channel {name!r}: use a text path")
    if text.startswith(("s3://", "https://")):
        return _s3_channel(name, text, None)
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise ConfigurationError(f"Input channel {name!r}: {text!r} does not exist")
    return Channel(name=name, local_path=path)


def _s3_channel(name: str, uri: object, content_type: object) -> Channel:
    parse_s3_uri(uri, f"input channel {name!r}")
    if content_type is not None and (
        not isinstance(content_type, str) or not 1 <= len(content_type) <= _MAX_CONTENT_TYPE
    ):
        raise ConfigurationError(
            f"Input channel {name!r}: content_type must be 1 to {_MAX_CONTENT_TYPE} "
            f"characters, not {content_type!r}"
        )
    assert isinstance(uri, str)
    return Channel(name=name, s3_uri=uri, content_type=content_type)
