"""Fixtures for driving hashing/js in real Chromium without Django.

A throw-away directory holds a copy of ``hashing/js`` (under ``js/``, so the modules load by
their relative imports exactly as the portal serves them from ``/static/hashing/``), the
harness page and whatever files a test adds; a stdlib HTTP server on 127.0.0.1 serves it.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "hashing" / "js"
HARNESS = Path(__file__).with_name("hashing_page.html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".html": "text/html",
        ".webp": "image/webp",
        ".raw": "application/octet-stream",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    root: Path
    url: str

    def add(self, name: str, data: bytes) -> str:
        """Serve ``data`` at ``name`` (relative); return its URL path."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return "/" + name


@pytest.fixture(scope="session")
def hashing_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hashing-site")
    shutil.copytree(JS_DIR, root / "js")
    shutil.copy(HARNESS, root / "index.html")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(root=root, url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def hashing_page(chromium, hashing_site: Site) -> Iterator[object]:
    """One page with the harness loaded; `window.takeback` holds the modules."""
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hashing_site.url + "/index.html")
    page.wait_for_function("window.takebackReady === true", timeout=30_000)
    assert errors == []
    try:
        yield page
    finally:
        context.close()
