"""The emulator's live settings: faults, rate limits and job quotas, as one document.

``GET /_emulator/settings`` answers :meth:`EmulatorSettings.to_document`; ``PATCH`` (or
``POST``) sends some of its keys, which :func:`apply_changes` checks all at once against
the rules below before anything changes, so a request either applies whole or not at
all. The document a ``GET`` answers is always accepted back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from ._faults import Faults

__all__ = ["SETTING_NAMES", "EmulatorSettings", "SettingsError", "apply_changes"]


class SettingsError(ValueError):
    """A settings change that is refused; the message says which key and why."""


@attrs.frozen(kw_only=True)
class EmulatorSettings:
    """What an operator may change while the emulator runs.

    Attributes:
        faults: The injected faults.
        rate_limits: Whether the per-operation rate limits apply.
        rate_scale: The factor on every rate (not burst) of the limits the emulator
            started with.
        concurrent_jobs_quota: Unfinished jobs allowed before CreateJob answers
            ``ServiceQuotaExceededException``; ``None`` for no limit.
        max_concurrent_jobs: Jobs the runner runs at once (more wait ``QUEUED``);
            ``None`` for no bound.
        bounded_runner: Whether the runner's bound can be changed at all.
    """

    faults: Faults = attrs.field(factory=Faults)
    rate_limits: bool = True
    rate_scale: float = 1.0
    concurrent_jobs_quota: int | None = None
    max_concurrent_jobs: int | None = None
    bounded_runner: bool = False

    def to_document(self) -> dict[str, Any]:
        """The settings as the admin endpoint shows them (JSON-ready)."""
        operations = self.faults.operations
        return {
            "error_rate": self.faults.error_rate,
            "drop_rate": self.faults.drop_rate,
            "latency_seconds": list(self.faults.latency_seconds),
            "seed": self.faults.seed,
            "fault_operations": sorted(operations) if operations is not None else None,
            "rate_limits": self.rate_limits,
            "rate_scale": self.rate_scale,
            "concurrent_jobs_quota": self.concurrent_jobs_quota,
            "max_concurrent_jobs": self.max_concurrent_jobs,
        }


#: The keys of the settings document, in the order they are shown.
SETTING_NAMES = tuple(EmulatorSettings().to_document())
# Beyond these a call would wait past any client's timeout, or rates overflow to inf.
_MAX_LATENCY_SECONDS = 300.0
_MAX_RATE_SCALE = 1e6


def apply_changes(current: EmulatorSettings, changes: object) -> EmulatorSettings:
    """``current`` with ``changes`` (a decoded JSON object) applied, every key checked.

    Raises:
        SettingsError: ``changes`` is not an object, names an unknown key or holds a
            value of the wrong type or range. Nothing of it applies then.
    """
    if not isinstance(changes, Mapping):
        raise SettingsError('the settings must be a JSON object, e.g. {"error_rate": 0.1}')
    unknown = sorted(str(key) for key in changes if key not in SETTING_NAMES)
    if unknown:
        raise SettingsError(
            f"unknown setting {', '.join(map(repr, unknown))}; "
            f"the settings are {', '.join(SETTING_NAMES)}"
        )
    fault_changes: dict[str, Any] = {}
    if "error_rate" in changes:
        fault_changes["error_rate"] = _fraction(changes, "error_rate")
    if "drop_rate" in changes:
        fault_changes["drop_rate"] = _fraction(changes, "drop_rate")
    if "latency_seconds" in changes:
        fault_changes["latency_seconds"] = _latency(changes["latency_seconds"])
    if "seed" in changes:
        fault_changes["seed"] = _integer(changes, "seed", minimum=None, nullable=True)
    if "fault_operations" in changes:
        fault_changes["operations"] = _operations(changes["fault_operations"])
    updated = current
    if fault_changes:
        updated = attrs.evolve(updated, faults=attrs.evolve(current.faults, **fault_changes))
    if "rate_limits" in changes:
        if not isinstance(changes["rate_limits"], bool):
            raise SettingsError(_wrong("rate_limits", changes["rate_limits"], "true or false"))
        updated = attrs.evolve(updated, rate_limits=changes["rate_limits"])
    if "rate_scale" in changes:
        scale = _number(changes, "rate_scale")
        if not 0 < scale <= _MAX_RATE_SCALE:
            raise SettingsError(
                _wrong("rate_scale", scale, f"a number above 0 and at most {_MAX_RATE_SCALE:g}")
            )
        updated = attrs.evolve(updated, rate_scale=scale)
    if "concurrent_jobs_quota" in changes:
        quota = _integer(changes, "concurrent_jobs_quota", minimum=0, nullable=True)
        updated = attrs.evolve(updated, concurrent_jobs_quota=quota)
    if "max_concurrent_jobs" in changes:
        bound = _integer(changes, "max_concurrent_jobs", minimum=1, nullable=True)
        if bound != current.max_concurrent_jobs and not current.bounded_runner:
            raise SettingsError(
                "max_concurrent_jobs cannot be changed: this emulator's runner has no "
                "job bound (it runs no job code)"
            )
        updated = attrs.evolve(updated, max_concurrent_jobs=bound)
    return updated


def _wrong(key: str, value: object, wanted: str) -> str:
    shown = repr(value) if not isinstance(value, str) else f'"{value}"'
    return f"{key} must be {wanted}, got {shown}"


def _number(changes: Mapping[str, object], key: str) -> float:
    value = changes[key]
    # JSON has no NaN or infinity, but Python's decoder accepts them; bools are ints.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingsError(_wrong(key, value, "a number"))
    return float(value)


def _fraction(changes: Mapping[str, object], key: str) -> float:
    value = _number(changes, key)
    if not 0.0 <= value <= 1.0:
        raise SettingsError(_wrong(key, value, "between 0 and 1"))
    return value


def _integer(
    changes: Mapping[str, object], key: str, *, minimum: int | None, nullable: bool
) -> int | None:
    value = changes[key]
    if value is None and nullable:
        return None
    wanted = "an integer" if minimum is None else f"an integer of at least {minimum}"
    if nullable:
        wanted += " or null"
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(_wrong(key, value, wanted))
    if minimum is not None and value < minimum:
        raise SettingsError(_wrong(key, value, wanted))
    return value


def _latency(value: object) -> tuple[float, float]:
    wanted = f"[low, high] seconds with 0 <= low <= high <= {_MAX_LATENCY_SECONDS:g}"
    if not isinstance(value, list) or len(value) != 2:
        raise SettingsError(_wrong("latency_seconds", value, wanted))
    low, high = (_number({"latency_seconds": item}, "latency_seconds") for item in value)
    if not 0.0 <= low <= high <= _MAX_LATENCY_SECONDS:
        raise SettingsError(_wrong("latency_seconds", value, wanted))
    return (low, high)


def _operations(value: object) -> frozenset[str] | None:
    from ._wire import OPERATIONS  # botocore's model: loaded when the setting is used

    if value is None:
        return None
    wanted = f"null (every operation) or a list of operation names from {', '.join(OPERATIONS)}"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(_wrong("fault_operations", value, wanted))
    unknown = sorted(set(value) - set(OPERATIONS))
    if unknown:
        raise SettingsError(f"fault_operations: unknown operation {', '.join(unknown)}; {wanted}")
    return frozenset(value)
