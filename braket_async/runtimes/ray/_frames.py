"""Reading a Ray job's log: the job's lines, and the keeper's framed lines among them.

The log Ray keeps for the job (what its tail websocket sends) holds, in order: Ray's own
lines before the entry point ran, the keeper's ``started`` line, the job's output, the
keeper's ``ended <code>`` line, its outputs (``file <name> <base64>`` lines, ``stored
<name>`` for outputs it uploaded, ``failure <base64>``), and ``done <code>``. Each of
the keeper's lines starts with the job's nonce and a space (see ``_keeper.py``).

The job's log is every line after ``started`` that is not a frame (the job's output,
then the keeper's own words about its end); what Ray printed before ``started`` is kept
only when the keeper never started (it says why the entry point could not run). A job
that printed its nonce could only confuse its own outputs, and those pass the copy-out
policy like any other.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import attrs

__all__ = ["FrameReader", "Outcome"]

#: Ray's lines before the keeper started that are kept for a job that never started.
_PREAMBLE_LIMIT = 64 * 1024


@attrs.define
class Outcome:
    """What the keeper said about the job, as far as the log was read."""

    started: dict[str, Any] | None = None
    exit_code: int | None = None
    failure: str | None = None
    stored: list[str] = attrs.field(factory=list)
    files: list[str] = attrs.field(factory=list)
    done: bool = False


class FrameReader:
    """Splits the log's text into the job's lines and the keeper's frames.

    Feed it the text as it comes (any split); each call returns the job's complete lines
    it finished (each ending in ``\\n``) and the chunks of output files it decoded.
    """

    def __init__(self, nonce: str) -> None:
        self._mark = f"{nonce} "
        self._partial = ""
        self._preamble: list[str] = []
        self._preamble_size = 0
        self.outcome = Outcome()

    def feed(self, text: str) -> tuple[str, list[tuple[str, bytes]]]:
        """The job's lines completed by ``text`` and ``(name, data)`` of output files."""
        text = self._partial + text
        end = text.rfind("\n")
        if end < 0:
            self._partial = text
            return "", []
        self._partial = text[end + 1 :]
        if self._mark not in text[: end + 1] and self.outcome.started is not None:
            return text[: end + 1], []  # the hot path: the job's lines only
        return self._lines(text[:end].split("\n"))

    def close(self) -> str:
        """The log ended: what is still owed to the job's log (an unfinished last line,
        or Ray's lines when the keeper never started)."""
        rest, self._partial = self._partial, ""
        if self.outcome.started is None:
            lines = [*self._preamble, *([rest] if rest else [])]
            return "".join(f"{line}\n" for line in lines)
        if rest and not rest.startswith(self._mark):
            return rest + "\n"
        return ""

    def _lines(self, lines: list[str]) -> tuple[str, list[tuple[str, bytes]]]:
        kept: list[str] = []
        files: list[tuple[str, bytes]] = []
        outcome = self.outcome
        for line in lines:
            if line.startswith(self._mark):
                kind, _, payload = line[len(self._mark) :].partition(" ")
                chunk = self._frame(kind, payload)
                if chunk is not None:
                    files.append(chunk)
            elif outcome.started is None:
                if self._preamble_size < _PREAMBLE_LIMIT:
                    self._preamble.append(line)
                    self._preamble_size += len(line) + 1
            else:  # the job's, or the keeper's words after it ended
                kept.append(line)
        return "".join(f"{line}\n" for line in kept), files

    def _frame(self, kind: str, payload: str) -> tuple[str, bytes] | None:
        outcome = self.outcome
        try:
            if kind == "started":
                outcome.started = dict(json.loads(payload or "{}"))
            elif kind == "ended":
                outcome.exit_code = int(payload)
            elif kind == "file":
                name, _, data = payload.partition(" ")
                if name not in outcome.files:
                    outcome.files.append(name)
                return name, base64.b64decode(data, validate=True)
            elif kind == "stored":
                outcome.stored.append(payload)
            elif kind == "failure":
                outcome.failure = base64.b64decode(payload).decode("utf-8", "replace")
            elif kind == "done":  # the final exit code (sending outputs may fail a job)
                outcome.exit_code = int(payload)
                outcome.done = True
        except (ValueError, TypeError, binascii.Error):
            pass  # not a frame of the keeper's after all
        return None
