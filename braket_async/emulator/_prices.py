"""The emulator's price list: the AWS price list for Braket in its bulk CSV format, with
the emulator's own test numbers.

The official SDK's ``braket.tracking.Tracker`` prices quantum tasks from the CSV at
``BRAKET_PRICE_OFFERS_URL`` (default: AWS's public price list). The emulator serves one
at :data:`PRICE_LIST_PATH` with the rows the Tracker looks up — per-task and per-shot
prices of the QPU-like devices, per-minute prices of the simulators, each also as
charged inside hybrid jobs — and per-minute prices of the hybrid jobs' instances. The
numbers are made up for tests, and the document says so in its disclaimer and in every
row's description: they are not what AWS charges.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from decimal import Decimal

import attrs

from ._devices import Device

__all__ = ["INSTANCE_PRICES", "PRICE_LIST_PATH", "Price", "price_list_csv", "price_list_url"]

#: Where the emulator serves its price list (the path of AWS's bulk price list).
PRICE_LIST_PATH = "/offers/v1.0/aws/AmazonBraket/current/index.csv"
_DISCLAIMER = (
    "TEST PRICES of the braket-async emulator, made up for offline tests of cost "
    "tracking: not AWS prices. See https://aws.amazon.com/braket/pricing/ for those."
)
_NOTE = " (braket-async emulator test price, not an AWS price)"
_COLUMNS = (
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "Product Family",
    "serviceCode",
    "Location",
    "Location Type",
    "Instance Type",
    "DeviceName",
    "Device Name",
    "Version",
    "usageType",
    "operation",
    "Region Code",
    "serviceName",
)
_TERM = "JRTCKXETXF"  # the on-demand offer term code of AWS price lists
_RATE = "6YS6EN2CT7"

#: Test prices per simulator and minute, outside and inside hybrid jobs.
SIMULATOR_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "SV1": (Decimal("0.1"), Decimal("0.05")),
    "DM1": (Decimal("0.2"), Decimal("0.1")),
    "TN1": (Decimal("0.3"), Decimal("0.15")),
}
#: Test prices of a QPU-like device's task and shot, outside and inside hybrid jobs.
QPU_TASK_PRICES = (Decimal("0.5"), Decimal("0.4"))
QPU_SHOT_PRICES = (Decimal("0.01"), Decimal("0.008"))
#: Test prices per minute of the instances hybrid jobs run on.
INSTANCE_PRICES: dict[str, Decimal] = {
    "ml.m5.large": Decimal("0.002"),
    "ml.m5.xlarge": Decimal("0.004"),
    "ml.m5.2xlarge": Decimal("0.008"),
    "ml.m5.4xlarge": Decimal("0.016"),
    "ml.c5.xlarge": Decimal("0.004"),
    "ml.c5.2xlarge": Decimal("0.008"),
    "ml.g4dn.xlarge": Decimal("0.02"),
    "ml.p3.2xlarge": Decimal("0.07"),
}


@attrs.frozen(kw_only=True)
class Price:
    """One row of the price list: a product's attributes and its on-demand price."""

    family: str
    region: str
    unit: str
    price: Decimal
    description: str
    device_name: str = ""
    version: str = ""
    instance_type: str = ""
    usage_type: str = ""
    operation: str = ""

    def row(self) -> dict[str, str]:
        """The row in the CSV's columns."""
        attributes = (self.family, self.region, self.device_name, self.version)
        sku = hashlib.sha256("|".join((*attributes, self.instance_type)).encode()).hexdigest()
        sku = sku[:16].upper()
        return {
            "SKU": sku,
            "OfferTermCode": _TERM,
            "RateCode": f"{sku}.{_TERM}.{_RATE}",
            "TermType": "OnDemand",
            "PriceDescription": self.description + _NOTE,
            "EffectiveDate": "2024-01-01",
            "StartingRange": "0",
            "EndingRange": "Inf",
            "Unit": self.unit,
            "PricePerUnit": f"{self.price:.10f}",
            "Currency": "USD",
            "Product Family": self.family,
            "serviceCode": "AmazonBraket",
            "Location": self.region,
            "Location Type": "AWS Region",
            "Instance Type": self.instance_type,
            # The Tracker looks QPU tasks up by "DeviceName", those of hybrid jobs by
            # "Device Name": both spellings are columns of the real list.
            "DeviceName": self.device_name,
            "Device Name": self.device_name,
            "Version": self.version,
            "usageType": self.usage_type,
            "operation": self.operation,
            "Region Code": self.region,
            "serviceName": "Amazon Braket",
        }


def _device_prices(device: Device, region: str) -> Iterable[Price]:
    name = device.arn.rsplit("/", 1)[-1]
    if device.type == "QPU":
        for family, price, unit, what in (
            ("Quantum Task", QPU_TASK_PRICES[0], "Tasks", "per task"),
            ("Quantum Task-Shot", QPU_SHOT_PRICES[0], "Shots", "per shot"),
            ("Braket Managed Jobs QPU Task", QPU_TASK_PRICES[1], "Tasks", "per task in a job"),
            ("Braket Managed Jobs QPU Task Shot", QPU_SHOT_PRICES[1], "Shots", "per shot in a job"),
        ):
            yield Price(
                family=family,
                region=region,
                unit=unit,
                price=price,
                description=f"{device.name} {what}",
                device_name=name[0].upper() + name[1:],
            )
        return
    version = name.upper()
    prices = SIMULATOR_PRICES.get(version)
    if prices is None:
        return
    operations = ["CompleteTask", "FailedTask"] if version == "TN1" else ["CompleteTask"]
    for operation in operations:
        yield Price(
            family="Simulator Task",
            region=region,
            unit="minutes",
            price=prices[0],
            description=f"{version} simulation per minute",
            version=version,
            usage_type=f"{version}-Task-ExecutionDuration",
            operation=operation,
        )
    yield Price(
        family="Braket Managed Jobs Simulator Task",
        region=region,
        unit="minutes",
        price=prices[1],
        description=f"{version} simulation per minute in a job",
        version=version,
        usage_type=f"Jobs-{version}-Task-ExecutionDuration",
        operation="Managed-Jobs",
    )


def price_rows(devices: Iterable[Device], region: str) -> list[Price]:
    """Every price: each device's in its own region (or ``region`` for the regionless
    simulators), each instance type's in ``region``."""
    prices: list[Price] = []
    for device in devices:
        prices.extend(_device_prices(device, device.arn.split(":")[3] or region))
    for instance_type, price in INSTANCE_PRICES.items():
        prices.append(
            Price(
                family="Braket Managed Jobs Instance",
                region=region,
                unit="minutes",
                price=price,
                description=f"Hybrid job instance {instance_type} per minute",
                instance_type=instance_type,
                usage_type=f"Jobs-{instance_type}-Minutes",
                operation="Managed-Jobs",
            )
        )
    return prices


def price_list_csv(devices: Iterable[Device], region: str) -> bytes:
    """The price list document: five rows of metadata, then the header and the prices."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["FormatVersion", "v1.0"])
    writer.writerow(["Disclaimer", _DISCLAIMER])
    writer.writerow(["Publication Date", "2024-01-01T00:00:00Z"])
    writer.writerow(["Version", "braket-async-emulator-test-prices"])
    writer.writerow(["OfferCode", "AmazonBraket"])
    writer.writerow(_COLUMNS)
    for price in price_rows(devices, region):
        row = price.row()
        writer.writerow([row[column] for column in _COLUMNS])
    return buffer.getvalue().encode()


def price_list_url(service_url: str) -> str:
    """Where an emulator at ``service_url`` serves its price list."""
    return service_url.rstrip("/") + PRICE_LIST_PATH
