"""A ``@hybrid_job`` call's local input data, found in the job where the function looks.

As the official decorator does, each local ``input_data`` path given relative to the
current folder is reachable inside the job at that same relative path, as a link (in the
job's working folder, the results folder) into the channel's input folder:

- a path that is one file: the file;
- a path that is one folder (or ends with ``/``): the folder, holding its contents;
- otherwise a prefix: every file or folder whose path starts with it, each at its own
  path. The matches are staged into one folder (hard links where the file system allows,
  copies otherwise) that becomes the channel.

Not linked (the function reads them through ``get_input_data_dir(channel)``): S3
sources, absolute paths and paths with ``..`` (a link there would be outside the job's
own folder: on the process runtime it would be written into your file system). The
links are made just before the function is called and removed after it returns
(:mod:`._hybrid_job_links`, in the job).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath

import attrs

from ._names import validate_channel_name
from .errors import ConfigurationError

__all__ = ["InputData", "InputLink", "plan_input_data"]

_DEFAULT_CHANNEL = "input"


@attrs.frozen
class InputLink:
    """A link the job makes before it calls the function."""

    #: Where the function opens it: a relative POSIX path in its working folder.
    path: str
    channel: str
    #: The name in the channel's folder; ``""`` for the folder itself.
    member: str

    def to_json(self) -> dict[str, str]:
        """The form ``call.json`` holds."""
        return {"path": self.path, "channel": self.channel, "member": self.member}


@attrs.frozen
class InputData:
    """A call's input data: what ``create()`` gets, and the links of the job."""

    #: The ``input_data`` argument of ``create()`` (``None``: no input data).
    channels: Mapping[str, object] | None
    links: tuple[InputLink, ...]
    #: Why channels are not linked, one line each (for the decorator's logger).
    notes: tuple[str, ...]


def plan_input_data(input_data: object, *, cwd: Path, staging: Path) -> InputData:
    """Resolve ``input_data`` against ``cwd``, staging prefix matches under ``staging``
    (blocking: it looks at and links files).

    Raises:
        ConfigurationError: A channel name is invalid, a local path matches nothing, or
            two links would be at the same place.
    """
    if input_data is None:
        return InputData(None, (), ())
    given = input_data if isinstance(input_data, Mapping) else {_DEFAULT_CHANNEL: input_data}
    channels: dict[str, object] = {}
    links: list[InputLink] = []
    notes: list[str] = []
    for channel, location in given.items():
        if not isinstance(channel, str):
            raise ConfigurationError(f"Input channel names must be strings, not {channel!r}")
        validate_channel_name(channel)
        channels[channel] = location
        text = os.fspath(location) if isinstance(location, (str, os.PathLike)) else None
        if not isinstance(text, str) or text.startswith(("s3://", "https://")):
            notes.append(
                f"input channel {channel!r} is in S3, so it is not in the working folder: "
                f"read it from get_input_data_dir({channel!r})"
            )
            continue
        relative = PurePath(text)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            notes.append(
                f"input channel {channel!r}: {text!r} is not linked into the job's working "
                "folder (only relative paths inside the current folder are): read it from "
                f"get_input_data_dir({channel!r})"
            )
            continue
        channels[channel], found = _resolve(channel, text, cwd / relative, staging)
        links.extend(found)
    _check_distinct(links)
    return InputData(channels, tuple(links), tuple(notes))


def _resolve(channel: str, text: str, local: Path, staging: Path) -> tuple[str, list[InputLink]]:
    """The channel's local path for ``create()``, and its links."""
    where = PurePosixPath(*PurePath(text).parts)
    if text.endswith(("/", os.sep)) and not local.is_dir():
        raise ConfigurationError(f"Input channel {channel!r}: {text!r} is not a folder")
    names = _matches(local)
    exact = text.endswith(("/", os.sep)) or len(names) <= 1
    if local.exists() and exact:
        member = "" if local.is_dir() else local.name
        return str(local), [InputLink(where.as_posix(), channel, member)]
    if not names:
        raise ConfigurationError(f"Input channel {channel!r}: nothing matches {text!r}")
    folder = staging / channel / local.name
    folder.mkdir(parents=True)
    for name in names:
        _stage(local.parent / name, folder / name)
    return str(folder), [
        InputLink((where.parent / name).as_posix(), channel, name) for name in names
    ]


def _matches(local: Path) -> list[str]:
    """The names next to ``local`` that start with its name (the official rule)."""
    try:
        return sorted(
            entry.name for entry in os.scandir(local.parent) if entry.name.startswith(local.name)
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _stage(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed there
        shutil.copy2(source, target)


def _check_distinct(links: list[InputLink]) -> None:
    seen: dict[PurePosixPath, InputLink] = {}
    for link in links:
        path = PurePosixPath(link.path)
        for other_path, other in seen.items():
            if path == other_path or path in other_path.parents or other_path in path.parents:
                raise ConfigurationError(
                    f"Input channels {other.channel!r} and {link.channel!r} would both be "
                    f"linked at {min(path, other_path)} in the job: give one of them "
                    "another path"
                )
        seen[path] = link
