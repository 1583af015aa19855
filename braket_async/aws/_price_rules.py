"""Which rows of the price list price a quantum task or a job's instance, and how much.

The task rules are the official ``braket.tracking.Tracker``'s, so that a job's cost
computed here equals what a ``Tracker`` inside the job reports for the same tasks:

- A QPU task (``qpu`` in its device ARN) costs its per-task fee plus its shots times the
  per-shot fee, nothing when it FAILED or was CANCELLED, nothing under a reservation.
  Its device is looked up by the last part of its ARN with the first letter upper-case
  (``Ibex`` as ``IBEX``, any ``2000Q`` as ``2000Q``, any ``Advantage_system...`` as
  ``Advantage_system``), in the task's region (from its ARN).
- A simulator task (``simulator`` in its device ARN) costs its execution duration, at
  least 3 s, times the per-unit price; nothing when no duration is known (a task that
  did not complete) or under a reservation.
- Tasks of a hybrid job use the "Braket Managed Jobs ..." product families (and the
  ``Device Name`` column instead of ``DeviceName``), other tasks the plain ones.

Every price must be found exactly once and be in USD. Arithmetic is ``Decimal`` in a
fixed context (28 digits, half-even), in the Tracker's order of operations.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal

from ._price_list import PriceList, PriceListFormatError

__all__ = [
    "CONTEXT",
    "MIN_SIMULATOR_BILLED_MS",
    "Unpriced",
    "billed_simulator_ms",
    "device_kind",
    "instance_price",
    "pricing_device_name",
    "qpu_task_prices",
    "simulator_price",
]

#: The arithmetic of every price: the default context, whatever the caller's is.
CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
#: The least a simulator task is billed for (the Tracker's ``MIN_SIMULATOR_DURATION``).
MIN_SIMULATOR_BILLED_MS = 3000
#: Milliseconds per unit of a per-duration price; keys lower-case (the Tracker's list
#: uses ``minutes``; AWS's other lists spell hours ``Hrs``).
_UNIT_MS = {
    "milliseconds": 1,
    "seconds": 1000,
    "second": 1000,
    "minutes": 60_000,
    "minute": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "hours": 3_600_000,
    "hour": 3_600_000,
    "hrs": 3_600_000,
    "hr": 3_600_000,
}
_QPU_FAMILIES = {  # in a job?: (per task, per shot, device name column)
    False: ("Quantum Task", "Quantum Task-Shot", "DeviceName"),
    True: ("Braket Managed Jobs QPU Task", "Braket Managed Jobs QPU Task Shot", "Device Name"),
}
_SIMULATOR_FAMILIES = {  # in a job?: (product family, operation)
    False: ("Simulator Task", "CompleteTask"),
    True: ("Braket Managed Jobs Simulator Task", "Managed-Jobs"),
}
INSTANCE_FAMILY = "Braket Managed Jobs Instance"


class Unpriced(Exception):
    """The price list has no single USD price for something; the message says what."""


def device_kind(device_arn: str) -> str | None:
    """``"qpu"``, ``"simulator"`` (as the Tracker tells them apart), or ``None``."""
    if "qpu" in device_arn:
        return "qpu"
    if "simulator" in device_arn:
        return "simulator"
    return None


def pricing_device_name(device_arn: str) -> str:
    """The QPU's name in the price list's device name columns."""
    name = device_arn.rsplit("/", 1)[-1]
    name = name[:1].upper() + name[1:]
    if "Ibex" in name:
        return name.replace("Ibex", "IBEX")
    if "2000Q" in name:
        return "2000Q"
    if "Advantage_system" in name:
        return "Advantage_system"
    return name


def _region(task_arn: str) -> str:
    parts = task_arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _one_price(prices: PriceList, columns: Mapping[str, str]) -> tuple[Decimal, str]:
    """The price and unit of the one row matching ``columns``."""
    rows = prices.search(**columns)
    if len(rows) != 1:
        raise Unpriced(f"{len(rows)} prices match {dict(columns)} in {prices.info.url}")
    row = rows[0]
    if row["Currency"] != "USD":
        raise Unpriced(f"the price of {dict(columns)} is in {row['Currency']!r}, not USD")
    try:
        price = Decimal(row["PricePerUnit"])
    except decimal.InvalidOperation:
        raise PriceListFormatError(
            f"The price list at {prices.info.url} has a price that is not a number, "
            f"{row['PricePerUnit']!r}, for {dict(columns)}"
        ) from None
    if not price.is_finite() or price < 0:
        raise PriceListFormatError(
            f"The price list at {prices.info.url} has the price {row['PricePerUnit']!r} "
            f"for {dict(columns)}"
        )
    return price, row["Unit"]


def _unit_ms(unit: str, what: Mapping[str, str]) -> int:
    try:
        return _UNIT_MS[unit.strip().lower()]
    except KeyError:
        raise Unpriced(f"the price of {dict(what)} is per {unit!r}, not per time") from None


def qpu_task_prices(
    prices: PriceList, task_arn: str, device_arn: str, *, in_job: bool
) -> tuple[Decimal, Decimal]:
    """The per-task and per-shot prices of a QPU task.

    Raises:
        Unpriced: Not exactly one USD price for either.
        PriceListFormatError: A price is not a number.
    """
    task_family, shot_family, name_column = _QPU_FAMILIES[in_job]
    columns = {"Region Code": _region(task_arn), name_column: pricing_device_name(device_arn)}
    shot, _ = _one_price(prices, {**columns, "Product Family": shot_family})
    task, _ = _one_price(prices, {**columns, "Product Family": task_family})
    return task, shot


def simulator_price(
    prices: PriceList, task_arn: str, device_arn: str, *, in_job: bool
) -> tuple[Decimal, int]:
    """The price of a simulator task's duration, and the milliseconds it is per.

    Raises:
        Unpriced: Not exactly one USD price per unit of time.
        PriceListFormatError: The price is not a number.
    """
    family, operation = _SIMULATOR_FAMILIES[in_job]
    columns = {
        "Region Code": _region(task_arn),
        "Version": device_arn.rsplit("/", 1)[-1].upper(),
        "Product Family": family,
        "operation": operation,
    }
    price, unit = _one_price(prices, columns)
    return price, _unit_ms(unit, columns)


def billed_simulator_ms(execution_ms: int | None, *, reservation: bool) -> int:
    """The milliseconds a simulator task is billed for (0: none)."""
    if reservation or not execution_ms:
        return 0
    return max(execution_ms, MIN_SIMULATOR_BILLED_MS)


def instance_price(prices: PriceList, instance_type: str, region: str) -> tuple[Decimal, int]:
    """The price of a job instance's time, and the milliseconds it is per.

    Raises:
        Unpriced: Not exactly one USD price per unit of time.
        PriceListFormatError: The price is not a number.
    """
    columns = {
        "Product Family": INSTANCE_FAMILY,
        "Instance Type": instance_type,
        "Region Code": region,
    }
    price, unit = _one_price(prices, columns)
    return price, _unit_ms(unit, columns)
