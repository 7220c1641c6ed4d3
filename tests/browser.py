"""A minimal W3C WebDriver client for headless Chromium (Debian's `chromium` + `chromium-driver`), on the
standard library alone: start chromedriver, open a session, navigate, type, read, screenshot, read the
browser's console log. Enough to test the static calculator in a real browser without selenium."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

#: flags that work as root in a container: no sandbox, no GPU, nothing that reaches the network
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def chromium() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver process and one headless Chromium session; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 1800) -> None:
        paths = chromium()
        if paths is None:
            raise RuntimeError("chromium and chromedriver are not installed")
        self.profile = tempfile.TemporaryDirectory(prefix="inferonomics-chromium-")
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen([paths[1], f"--port={port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                self.driver.kill()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.05)
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"binary": paths[0], "args": [
                    *CHROMIUM_FLAGS, f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}"]}}
        try:
            self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
        except Exception:
            self.driver.kill()
            raise

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.read()[:500]!r}") from None

    def _s(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    # -- page ---------------------------------------------------------------------------------------
    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        """Run ``script`` (a function body; ``arguments`` holds args) in the page and return its value."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script: str, timeout: float = 10.0, *args):
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for: {script}")
            time.sleep(0.02)

    def find(self, css: str) -> str:
        return self._s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def type(self, css: str, text: str) -> None:
        """Click into the field, select what it holds (Ctrl+A) and type ``text`` over it, key by key, as a
        person would (each key fires an input event)."""
        el = self.find(css)
        self._s("POST", f"/element/{el}/click", {})
        self._s("POST", f"/element/{el}/value", {"text": "\ue009a\ue000" + text})

    def click(self, css: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._s("GET", "/screenshot"))

    def console(self) -> list[dict]:
        """Browser console entries since the last call (level, message)."""
        return self._s("POST", "/se/log", {"type": "browser"})

    def close(self) -> None:
        try:
            self._s("DELETE", "")
        except Exception:  # noqa: BLE001 - closing a session that already died
            pass
        self.driver.terminate()
        try:
            self.driver.wait(10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
        self.profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
