"""The price list over real HTTP: the emulator's, and documents served on loopback that
are cached, unreachable, slow or malformed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from support.quantum_tasks import PriceServer, closed_port_url, price_server, read_price_list

from braket_async.aws._price_list import PriceListFormatError, PriceListUnavailableError
from braket_async.aws._pricing import (
    DEFAULT_PRICE_LIST_URL,
    PriceListCache,
    fetch_price_list,
    price_list_url,
)
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import BraketAsyncError, ConfigurationError

pytestmark = pytest.mark.anyio


@pytest.fixture
async def server(fake_stack: EmulatorStack) -> AsyncIterator[PriceServer]:
    """A price server whose ``good`` document is the emulator's price list."""
    async with price_server() as serving:
        serving.documents["good"] = await read_price_list(fake_stack)
        yield serving


async def test_the_emulators_list_is_fetched_with_its_metadata(fake_stack: EmulatorStack) -> None:
    url = fake_stack.environment()["BRAKET_PRICE_OFFERS_URL"]

    prices = await PriceListCache(None).get(url)

    assert prices.info.url == url
    assert prices.info.publication_date == "2024-01-01T00:00:00Z"
    assert prices.info.version == "braket-async-emulator-test-prices"
    (row,) = prices.search(
        **{"Product Family": "Braket Managed Jobs Simulator Task", "Version": "SV1"}
    )
    assert Decimal(row["PricePerUnit"]) == Decimal("0.05")
    assert row["Unit"] == "minutes"
    assert prices.search(**{"Product Family": "no such family"}) == ()


async def test_a_list_is_fetched_once_then_kept_in_memory_and_on_disk(
    server: PriceServer, tmp_path: Path
) -> None:
    url = server.url("good")
    cache = PriceListCache(tmp_path)

    first = await cache.get(url)
    assert await cache.get(url) is first
    assert server.requests["good"] == 1
    stored = tmp_path / (hashlib.sha256(url.encode()).hexdigest() + ".csv")
    assert stored.read_bytes() == server.documents["good"]

    # Another process: a new cache on the same folder reads the disk copy.
    again = await PriceListCache(tmp_path).get(url)
    assert server.requests["good"] == 1
    assert len(again) == len(first)
    assert again.info.publication_date == first.info.publication_date

    refreshed = await cache.get(url, refresh=True)
    assert server.requests["good"] == 2
    assert refreshed is not first
    assert await PriceListCache(tmp_path, max_age_seconds=0).get(url) is not None
    assert server.requests["good"] == 3


async def test_a_damaged_disk_copy_is_fetched_again(server: PriceServer, tmp_path: Path) -> None:
    url = server.url("good")
    await PriceListCache(tmp_path).get(url)
    (stored,) = tmp_path.glob("*.csv")
    stored.write_bytes(b"<html>captive portal</html>")

    prices = await PriceListCache(tmp_path).get(url)

    assert server.requests["good"] == 2
    assert len(prices) > 0
    assert stored.read_bytes() == server.documents["good"]


async def test_concurrent_requests_make_one_fetch(server: PriceServer) -> None:
    cache = PriceListCache(None)
    lists = await asyncio.gather(*(cache.get(server.url("good")) for _ in range(10)))
    assert server.requests["good"] == 1
    assert all(prices is lists[0] for prices in lists)


async def test_the_url_comes_from_the_official_variable(
    server: PriceServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert price_list_url() == DEFAULT_PRICE_LIST_URL
    monkeypatch.setenv("BRAKET_PRICE_OFFERS_URL", server.url("good"))

    prices = await fetch_price_list()

    assert prices.info.url == server.url("good")
    assert server.requests["good"] == 1
    assert len(list((tmp_path / "braket-async" / "price-lists").glob("*.csv"))) == 1


async def test_an_unreachable_list_is_a_clear_error() -> None:
    url = closed_port_url()
    with pytest.raises(PriceListUnavailableError, match="Cannot fetch the price list from") as info:
        await PriceListCache(None).get(url)
    assert url in str(info.value)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, BraketAsyncError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is PriceListUnavailableError
    assert str(copy) == str(info.value)


async def test_a_server_that_never_answers_is_given_up_on(server: PriceServer) -> None:
    with pytest.raises(PriceListUnavailableError, match=r"no answer within 0\.2 s"):
        await PriceListCache(None).get(server.url("hang"), read_timeout=0.2)
    assert server.requests["hang"] == 1


@pytest.mark.parametrize("status", [404, 503])
async def test_an_http_error_names_its_status(server: PriceServer, status: int) -> None:
    server.documents["gone"] = status
    with pytest.raises(PriceListUnavailableError, match=f"HTTP {status}"):
        await PriceListCache(None).get(server.url("gone"))


def _lines(document: bytes, count: int) -> bytes:
    return b"".join(document.splitlines(keepends=True)[:count])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda good: b"<html><body>Sign in to the network</body></html>\n", "ends at line 2"),
        (lambda good: b"\n" * 8, "no column 'Product Family'"),
        (lambda good: _lines(good, 3), "ends at line 4"),
        (lambda good: _lines(good, 5), "no column"),
        (lambda good: good.replace(b'"PricePerUnit"', b'"Price"', 1), "no column 'PricePerUnit'"),
        (lambda good: b"\xff\xfe" + good, "not UTF-8"),
    ],
    ids=["html", "blank", "cut-in-metadata", "no-header", "renamed-column", "not-utf8"],
)
async def test_a_malformed_list_is_a_clear_error(
    server: PriceServer, body: object, message: str
) -> None:
    good = server.documents["good"]
    assert isinstance(good, bytes)
    server.documents["bad"] = body(good)  # type: ignore[operator]
    with pytest.raises(PriceListFormatError, match=message) as info:
        await PriceListCache(None).get(server.url("bad"))
    assert server.url("bad") in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "url", ["ftp://example.invalid/index.csv", "index.csv", "http://", "file:///etc/passwd"]
)
async def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid price list URL"):
        await PriceListCache(None).get(url)


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), "5"])
async def test_a_bad_read_timeout_is_refused(server: PriceServer, timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="read_timeout"):
        await PriceListCache(None).get(server.url("good"), read_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("age", [-1, float("inf"), float("nan"), "1"])
def test_a_bad_max_age_is_refused(age: object) -> None:
    with pytest.raises(ConfigurationError, match="max_age_seconds"):
        PriceListCache(None, max_age_seconds=age)  # type: ignore[arg-type]


async def test_a_cache_folder_that_cannot_be_written_costs_a_fetch_not_an_error(
    server: PriceServer, tmp_path: Path
) -> None:
    folder = tmp_path / "file-in-the-way"
    folder.write_text("not a folder")
    cache = PriceListCache(folder)
    prices = await cache.get(server.url("good"))
    assert len(prices) > 0
    assert folder.read_text() == "not a folder"
    assert os.listdir(tmp_path) == ["file-in-the-way"]
