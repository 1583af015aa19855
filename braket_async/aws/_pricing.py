"""AWS's public price list for Braket: where it is, fetched with aiohttp, parsed off the
event loop, cached in memory and on disk.

The URL is the official SDK's (``BRAKET_PRICE_OFFERS_URL`` replaces it, as there).
Nothing here knows a price: every number comes from the document
(:mod:`._price_list`); which rows price what is :mod:`._price_rules`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import logging
import math
import os
import tempfile
import time
import urllib.parse
import weakref
from pathlib import Path

import aiohttp
import anyio.to_thread

from ..errors import ConfigurationError
from ._price_list import (
    PriceList,
    PriceListError,
    PriceListFormatError,
    PriceListUnavailableError,
    parse_price_list,
)

__all__ = [
    "DEFAULT_PRICE_LIST_URL",
    "PRICE_LIST_URL_VARIABLE",
    "PriceListCache",
    "default_cache_directory",
    "fetch_price_list",
    "price_list_url",
]

_LOGGER = logging.getLogger(__name__)

#: AWS's bulk price list for Braket, the official SDK's default.
DEFAULT_PRICE_LIST_URL = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonBraket/current/index.csv"
)
#: The variable that replaces :data:`DEFAULT_PRICE_LIST_URL`, as in the official SDK.
PRICE_LIST_URL_VARIABLE = "BRAKET_PRICE_OFFERS_URL"
#: How long a fetched list is used before it is fetched again (AWS changes it rarely).
DEFAULT_MAX_AGE_SECONDS = 24 * 60 * 60
#: Seconds to connect, and between two reads of the answer, before giving up.
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Larger answers are refused: AWS's list for Braket is a few megabytes.
MAX_PRICE_LIST_BYTES = 64 << 20


def price_list_url() -> str:
    """The price list's URL: ``BRAKET_PRICE_OFFERS_URL`` when set, else AWS's."""
    return os.environ.get(PRICE_LIST_URL_VARIABLE) or DEFAULT_PRICE_LIST_URL


def default_cache_directory() -> Path:
    """Where price lists are kept between processes: ``$XDG_CACHE_HOME/braket-async/
    price-lists``, else ``~/.cache/braket-async/price-lists``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "braket-async" / "price-lists"


class PriceListCache:
    """Price lists by URL, fetched at most once per ``max_age_seconds``.

    Kept in memory for the process, and in ``directory`` (``None``: not on disk) for
    other processes: one file per URL, named by the URL's SHA-256, written whole or not
    at all; a copy that fails to parse is fetched again. Files older than
    ``max_age_seconds`` are removed when a new one is written. Concurrent requests for
    one URL in one event loop make one fetch.

    Args:
        directory: The disk cache's folder (created when needed), or ``None``.
        max_age_seconds: How long a fetched list is used; 0 fetches every time.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        if not (isinstance(max_age_seconds, (int, float)) and 0 <= max_age_seconds < math.inf):
            raise ConfigurationError(
                f"max_age_seconds must be a finite number of seconds >= 0, not {max_age_seconds!r}"
            )
        self.directory = None if directory is None else Path(directory)
        self.max_age_seconds = float(max_age_seconds)
        self._memory: dict[str, PriceList] = {}
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    async def get(
        self,
        url: str | None = None,
        *,
        refresh: bool = False,
        read_timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> PriceList:
        """The price list at ``url`` (default :func:`price_list_url`), from the cache
        when fresh, else fetched.

        Args:
            url: An ``http`` or ``https`` URL.
            refresh: Fetch it even when a fresh copy is cached.
            read_timeout: Seconds to connect, and between two reads of the answer, before
                giving up (the whole download gets ten times as long).

        Raises:
            ConfigurationError: ``url`` is not an http(s) URL, or a bad ``read_timeout``.
            PriceListUnavailableError: It could not be fetched.
            PriceListFormatError: What was fetched is not a price list.
        """
        url = url or price_list_url()
        _check_url(url)
        if not (isinstance(read_timeout, (int, float)) and 0 < read_timeout < math.inf):
            raise ConfigurationError(
                f"read_timeout must be a finite number of seconds > 0, not {read_timeout!r}"
            )
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, {}).setdefault(url, asyncio.Lock())
        async with lock:
            if not refresh:
                cached = self._memory.get(url)
                if cached is not None and self._fresh(cached.info.fetched_at):
                    return cached
                cached = await self._read_disk(url)
                if cached is not None:
                    self._memory[url] = cached
                    return cached
            data = await _download(url, read_timeout)
            fetched_at = datetime.datetime.now(datetime.timezone.utc)
            prices = await anyio.to_thread.run_sync(
                lambda: parse_price_list(data, url, fetched_at=fetched_at)
            )
            self._memory[url] = prices
            await self._write_disk(url, data)
            return prices

    def _fresh(self, fetched_at: datetime.datetime) -> bool:
        age = datetime.datetime.now(datetime.timezone.utc) - fetched_at
        return age.total_seconds() < self.max_age_seconds

    def _path(self, url: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / (hashlib.sha256(url.encode()).hexdigest() + ".csv")

    async def _read_disk(self, url: str) -> PriceList | None:
        path = self._path(url)
        if path is None:
            return None

        def read() -> PriceList | None:
            try:
                mtime = path.stat().st_mtime
                fetched_at = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
                if not self._fresh(fetched_at):
                    return None
                return parse_price_list(path.read_bytes(), url, fetched_at=fetched_at)
            except FileNotFoundError:
                return None
            except (OSError, PriceListFormatError) as exc:
                _LOGGER.warning("Ignoring the cached price list %s: %s", path, exc)
                with contextlib.suppress(OSError):
                    path.unlink()
                return None

        return await anyio.to_thread.run_sync(read)

    async def _write_disk(self, url: str, data: bytes) -> None:
        path = self._path(url)
        if path is None:
            return

        def write() -> None:
            partial: str | None = None
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(
                    dir=path.parent, prefix=".", suffix=".partial", delete=False
                ) as file:
                    partial = file.name
                    file.write(data)
                os.replace(partial, path)
                self._remove_expired(path)
            except OSError as exc:  # a cache that cannot be written costs a fetch, no more
                _LOGGER.warning("Cannot cache the price list in %s: %s", path.parent, exc)
                if partial is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(partial)

        await anyio.to_thread.run_sync(write)

    def _remove_expired(self, kept: Path) -> None:
        now = time.time()
        for entry in kept.parent.iterdir():
            if entry == kept or entry.suffix not in (".csv", ".partial"):
                continue
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > max(self.max_age_seconds, 3600):
                    entry.unlink()


def _check_url(url: str) -> None:
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"Invalid price list URL {url!r} (from {PRICE_LIST_URL_VARIABLE} or url=): "
            "expected an http or https URL"
        )


async def _download(url: str, read_timeout: float) -> bytes:
    """The body of a GET of ``url``; proxies are honoured as the official SDK does."""
    # A server that trickles bytes just inside the read timeout is cut off too.
    limits = aiohttp.ClientTimeout(
        total=10 * read_timeout, sock_connect=read_timeout, sock_read=read_timeout
    )
    try:
        async with (
            aiohttp.ClientSession(timeout=limits, trust_env=True) as http,
            http.get(url) as response,
        ):
            if response.status != 200:
                raise PriceListUnavailableError(
                    f"Cannot fetch the price list from {url}: HTTP {response.status} "
                    f"{response.reason or ''}".rstrip()
                )
            data = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > MAX_PRICE_LIST_BYTES:
                    raise PriceListFormatError(
                        f"The price list at {url} is larger than "
                        f"{MAX_PRICE_LIST_BYTES >> 20} MiB: not AWS's price list"
                    )
            return bytes(data)
    except PriceListError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, asyncio.TimeoutError):
            reason = f"no answer within {read_timeout:g} s"
        raise PriceListUnavailableError(
            f"Cannot fetch the price list from {url}: {reason}"
        ) from exc


#: The process's caches, by disk folder (``XDG_CACHE_HOME`` may change between calls).
_DEFAULT_CACHES: dict[Path, PriceListCache] = {}


async def fetch_price_list(
    url: str | None = None,
    *,
    cache: PriceListCache | None = None,
    refresh: bool = False,
    read_timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> PriceList:
    """The price list at ``url`` (default: ``BRAKET_PRICE_OFFERS_URL``, else AWS's),
    through ``cache`` (default: the process's, on disk in
    :func:`default_cache_directory`, fresh for a day).

    ``PriceListCache(None)`` keeps lists in memory only; ``refresh=True`` fetches anew.

    Raises:
        ConfigurationError: ``url`` is not an http(s) URL.
        PriceListUnavailableError: It could not be fetched.
        PriceListFormatError: What was fetched is not a price list.
    """
    if cache is None:
        directory = default_cache_directory()
        cache = _DEFAULT_CACHES.get(directory)
        if cache is None:
            cache = _DEFAULT_CACHES.setdefault(directory, PriceListCache(directory))
    return await cache.get(url, refresh=refresh, read_timeout=read_timeout)
