"""Times as the Braket service writes them."""

from __future__ import annotations

import datetime

__all__ = ["service_time"]


def service_time(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the service writes its own times."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
