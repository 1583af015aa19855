"""In the job: links that put a call's local input data where the function opens it.

The client planned them (``_hybrid_job_input``): each is a relative path in the
function's working folder and the channel folder, or a file in it, that it points to.
They are made just before the function is called and removed after it returns, so they
are not collected with the results. Every step goes through descriptors of folders opened
without following links: no link, whoever made it, leads a make or a removal out of the
working folder, and only links with the target this made are removed (with the folders
made for them, when empty).

This file is copied into the job's source package next to ``entry.py``; like it, it
imports only the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

__all__ = ["InputLinks"]

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class InputLinks:
    """The links of one call, in the working folder ``base``."""

    def __init__(self, base: str) -> None:
        self._base = base
        # (path parts, target, folders made for it, outermost first)
        self._made: list[tuple[tuple[str, ...], str, list[tuple[str, ...]]]] = []

    def make(
        self, links: Iterable[Mapping[str, str]], channel_folder: Callable[[str], str]
    ) -> None:
        """Make each link (``path``, ``channel``, ``member``), printing ``path -> target``.

        Raises:
            OSError: A path is taken, or one of its folders is not a plain folder; the
                links made until then stay recorded for :meth:`remove`.
            ValueError: A path is not relative, or leaves the working folder.
        """
        for link in links:
            parts = _parts(link["path"])
            target = channel_folder(link["channel"])
            if link["member"]:
                target = os.path.join(target, link["member"])
            folders: list[tuple[str, ...]] = []
            descriptor = os.open(self._base, _FOLDER)
            try:
                for depth, name in enumerate(parts[:-1]):
                    try:
                        os.mkdir(name, dir_fd=descriptor)
                        folders.append(parts[: depth + 1])
                    except FileExistsError:
                        pass
                    descriptor = _enter(descriptor, name)
                try:
                    os.symlink(target, parts[-1], dir_fd=descriptor)
                except FileExistsError:
                    raise FileExistsError(
                        f"input data cannot be linked at {link['path']}: something is there"
                    ) from None
            finally:
                os.close(descriptor)
                self._made.append((parts, target, folders))
            print(f"{link['path']} -> {target}", flush=True)

    def remove(self) -> None:
        """Remove the links made, if they still point where they were made to point,
        and the folders made for them, if empty. Never raises."""
        while self._made:
            parts, target, folders = self._made.pop()
            descriptor = _open_folder(self._base, parts[:-1])
            if descriptor is not None:
                try:
                    if os.readlink(parts[-1], dir_fd=descriptor) == target:
                        os.unlink(parts[-1], dir_fd=descriptor)
                except OSError:
                    pass  # replaced by the function, or gone: not this one's to remove
                finally:
                    os.close(descriptor)
            for folder in reversed(folders):
                parent = _open_folder(self._base, folder[:-1])
                if parent is None:
                    break
                try:
                    os.rmdir(folder[-1], dir_fd=parent)
                except OSError:
                    pass  # not empty: the function put something there
                finally:
                    os.close(parent)


def _parts(path: str) -> tuple[str, ...]:
    parts = tuple(part for part in path.split("/") if part not in ("", "."))
    if not parts or path.startswith("/") or ".." in parts:
        raise ValueError(f"input data link {path!r} must be a relative path inside the folder")
    return parts


def _enter(descriptor: int, name: str) -> int:
    """The descriptor of the folder ``name`` in ``descriptor`` (then closed), never a
    link; on an error ``descriptor`` stays open."""
    inner = os.open(name, _FOLDER, dir_fd=descriptor)
    os.close(descriptor)
    return inner


def _open_folder(base: str, parts: tuple[str, ...]) -> int | None:
    """A descriptor of ``base/parts``, or ``None`` when a part is not a plain folder."""
    try:
        descriptor = os.open(base, _FOLDER)
    except OSError:
        return None
    try:
        for name in parts:
            descriptor = _enter(descriptor, name)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor
