"""A real headless Chromium (Debian's ``chromium``), driven over the DevTools protocol
with aiohttp's websocket client: navigate, evaluate JavaScript, take screenshots.

No browser-driver dependency: the protocol is a few JSON messages on one websocket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio

CHROMIUM = "/usr/bin/chromium"
# What this closed network needs: no sandbox as root, nothing that calls out.
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1200,900",
    "--remote-debugging-port=0",
)


class Page:
    """One browser tab."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events are skipped)."""
        number = next(self._ids)
        await self._socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = json.loads((await self._socket.receive()).data)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        answer = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 60) -> Any:
        """The value of ``expression`` once truthy: the page re-checks it at each change
        of its document (a MutationObserver), and at each load."""
        waiting = f"""new Promise((resolve) => {{
            const check = () => {{
                let value;
                try {{ value = ({expression}); }} catch (error) {{ value = false; }}
                if (value) {{ observer.disconnect(); resolve(value); }}
            }};
            const observer = new MutationObserver(check);
            observer.observe(document, {{subtree: true, childList: true, characterData: true,
                                         attributes: true}});
            check();
        }})"""
        with anyio.fail_after(seconds):
            return await self.evaluate(waiting)

    async def goto(self, url: str) -> None:
        """Load ``url``; return at its load event."""
        number = next(self._ids)
        await self._socket.send_json(
            {"id": number, "method": "Page.navigate", "params": {"url": url}}
        )
        answered = loaded = False
        with anyio.fail_after(60):
            while not (answered and loaded):
                message = json.loads((await self._socket.receive()).data)
                if message.get("id") == number:
                    failure = message.get("error") or message.get("result", {}).get("errorText")
                    if failure:
                        raise RuntimeError(f"Page.navigate {url}: {failure}")
                    answered = True
                elif message.get("method") == "Page.loadEventFired":
                    loaded = True

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the page at ``path``."""
        shot = await self.call("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """A headless Chromium with one page; the browser and its profile gone on exit."""
    assert shutil.which(CHROMIUM), "tests/run.sh installs Debian's chromium"
    profile = tempfile.mkdtemp(prefix="braket-async-chromium-")
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *_FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    drain: asyncio.Task[bytes] | None = None
    try:
        assert browser.stderr is not None
        endpoint = ""
        with anyio.fail_after(60):
            while not endpoint:
                line = (await browser.stderr.readline()).decode()
                assert line, "chromium exited before it listened"
                if line.startswith("DevTools listening on "):
                    endpoint = line.split()[-1]
        port = endpoint.split("/")[2].rsplit(":", 1)[1]
        # Chromium keeps writing to stderr: drain it so it never blocks on a full pipe.
        drain = asyncio.create_task(browser.stderr.read())
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as listed:
                targets = await listed.json()
            page_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with http.ws_connect(page_url, max_msg_size=64 * 1024 * 1024) as socket:
                page = Page(socket)
                await page.call("Page.enable")
                yield page
    finally:
        if drain is not None:
            drain.cancel()
        if browser.returncode is None:
            browser.kill()
        await browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
