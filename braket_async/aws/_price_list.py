"""A price list in AWS's bulk CSV format, parsed: its metadata, its rows, searches.

The format (AWS's "reading an offer" documentation): five lines of metadata (format
version, disclaimer, publication date, version, offer code), then a header and one row
per product and price. It is the document the official SDK's
``braket.tracking.Tracker`` reads; fetching and caching it is :mod:`._pricing`.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping

import attrs

from ..errors import BraketAsyncError

__all__ = [
    "PriceList",
    "PriceListError",
    "PriceListFormatError",
    "PriceListInfo",
    "PriceListUnavailableError",
    "parse_price_list",
]

#: "The first five rows of the CSV are the metadata for the offer file" (AWS's docs).
_METADATA_LINES = 5
#: The columns every price lookup reads.
_REQUIRED_COLUMNS = ("Product Family", "Region Code", "PricePerUnit", "Currency", "Unit")


class PriceListError(BraketAsyncError):
    """The price list cannot be used to price anything."""


class PriceListUnavailableError(PriceListError, OSError):
    """The price list could not be fetched: no connection, a timeout, an HTTP error."""


class PriceListFormatError(PriceListError, ValueError):
    """The price list is not AWS's bulk price list in CSV (an HTML page, cut short, a
    missing column, a price that is not a number)."""


@attrs.frozen(kw_only=True)
class PriceListInfo:
    """Which price list priced something: where it came from and when it was made.

    Attributes:
        url: Where it was fetched from.
        publication_date: Its ``Publication Date`` metadata, as written there.
        version: Its ``Version`` metadata.
        fetched_at: When it was fetched (UTC); for a copy read from the disk cache,
            when that copy was fetched.
    """

    url: str
    publication_date: str
    version: str
    fetched_at: datetime.datetime


class PriceList:
    """A parsed price list: its metadata and its rows, searchable by column values.

    Build one with :func:`fetch_price_list` or :func:`parse_price_list`.
    """

    def __init__(self, info: PriceListInfo, rows: list[dict[str, str]]) -> None:
        self.info = info
        self._rows = rows
        self._searches: dict[frozenset[tuple[str, str]], tuple[Mapping[str, str], ...]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"PriceList({self.info.url!r}, {len(self._rows)} rows)"

    def search(self, **columns: str) -> tuple[Mapping[str, str], ...]:
        """The rows whose ``columns`` have exactly these values (the official
        ``price_search``), e.g. ``search(**{"Product Family": "Quantum Task"})``."""
        key = frozenset(columns.items())
        found = self._searches.get(key)
        if found is None:
            found = tuple(
                row
                for row in self._rows
                if all(row.get(column) == value for column, value in columns.items())
            )
            self._searches[key] = found
        return found


def parse_price_list(
    data: bytes, url: str, *, fetched_at: datetime.datetime | None = None
) -> PriceList:
    """Parse a price list document (blocking: run it in a worker thread for big ones).

    Raises:
        PriceListFormatError: ``data`` is not a price list in AWS's CSV format.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PriceListFormatError(f"The price list at {url} is not UTF-8 text: {exc}") from exc
    stream = io.StringIO(text, newline="")
    metadata: dict[str, str] = {}
    for number in range(1, _METADATA_LINES + 1):
        line = stream.readline()
        if not line:
            raise PriceListFormatError(
                f"The price list at {url} ends at line {number}: expected "
                f"{_METADATA_LINES} lines of metadata, then a header and prices "
                f"(it starts {_excerpt(text)})"
            )
        fields = next(csv.reader([line]), [])
        if len(fields) >= 2:
            metadata[fields[0]] = fields[1]
    reader = csv.DictReader(stream, restval="")
    try:
        header = reader.fieldnames or []
        missing = [column for column in _REQUIRED_COLUMNS if column not in header]
        if missing:
            raise PriceListFormatError(
                f"The price list at {url} is not AWS's price list in CSV: its header (line "
                f"{_METADATA_LINES + 1}) has no column {', '.join(map(repr, missing))} "
                f"(it starts {_excerpt(text)})"
            )
        rows = [row for row in reader if any(row.values())]
    except csv.Error as exc:
        raise PriceListFormatError(
            f"The price list at {url} is not valid CSV at line {reader.line_num}: {exc}"
        ) from exc
    info = PriceListInfo(
        url=url,
        publication_date=metadata.get("Publication Date", ""),
        version=metadata.get("Version", ""),
        fetched_at=fetched_at or datetime.datetime.now(datetime.timezone.utc),
    )
    return PriceList(info, rows)


def _excerpt(text: str) -> str:
    head = text[:80].replace("\n", "\\n")
    return repr(head + ("..." if len(text) > 80 else ""))
