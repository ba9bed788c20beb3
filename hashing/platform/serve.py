"""``serve-index``: the local lookups over HTTP on loopback, for a non-Python upload path.

``POST /check`` with ``{"hashes": {"pdq": "...", "phash": "...", "md5": "..."}}`` answers
``{"verdict", "match": bool, "needs_review": bool, "distance", "matches": [...]}``, as
``check`` does for a file. ``hashes`` may be the whole record ``python -m hashing --dihedral``
prints: ``pdq_quality`` (a low one turns pHash-only hits into ``needs_review``),
``pdq_dihedral`` (the image's 8 PDQ variants, name -> hex: rotated and mirrored copies
match) and, for a video, ``vpdq`` (its frames: listed videos are compared under the vPDQ
rule and listed photos found in its frames, as ``check`` does).
``GET /health`` answers the store's size and feed position. The index is rebuilt when a
``sync`` has moved the store's position. Images are never sent here: hash them where
they are.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hashing.distance import HEX_LENGTHS, is_valid_hex
from hashing.platform.check import Checker
from hashing.platform.store import Store

# A video's record carries its vPDQ frames: two hours at one a second (7,200, the
# portal's limit) is some 800 KB of JSON.
MAX_BODY_BYTES = 1024 * 1024


class IndexServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], db_path: str) -> None:
        super().__init__(address, _Handler)
        self.db_path = db_path
        self._lock = threading.Lock()
        self._local = threading.local()
        self._checker: Checker | None = None
        self._position: str | None = None

    def store(self) -> Store:
        # sqlite3 connections belong to one thread.
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.db_path)
        return store

    def checker(self) -> Checker:
        store = self.store()
        position = store.meta_get("position")
        with self._lock:
            if self._checker is None or position != self._position:
                self._checker = Checker(store)
                self._position = position
            self._checker.store = store
            return self._checker


class _Handler(BaseHTTPRequestHandler):
    server: IndexServer

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: a request log would list the hashes of uploads.
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/health":
            self._send(404, {"code": "not_found", "message": "Use POST /check or GET /health."})
            return
        store = self.server.store()
        self._send(200, {"hashes": store.count(), "position": store.meta_get("position")})

    def do_POST(self) -> None:
        if self.path != "/check":
            self._send(404, {"code": "not_found", "message": "Use POST /check or GET /health."})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            self._send(400, {"code": "bad_request", "message": "Send a JSON body (max 1 MiB)."})
            return
        try:
            hashes = json.loads(self.rfile.read(length))["hashes"]
            if not isinstance(hashes, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._send(400, {"code": "bad_request", "message": 'Send {"hashes": {...}}.'})
            return
        problem = _invalid(hashes)
        if problem:
            self._send(400, {"code": "bad_hash", "message": problem})
            return
        self._send(200, self.server.checker().assess(hashes))


# Record fields that are not hashes of the file (python -m hashing prints them).
_RECORD_FIELDS = frozenset({"path", "media", "duration"})


def _invalid(hashes: dict[str, Any]) -> str | None:
    """What is wrong with a lookup's hashes, or None."""
    for name, value in hashes.items():
        if name in _RECORD_FIELDS:
            continue
        if name == "pdq_quality":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                return "pdq_quality: an integer from 0 to 100."
        elif name == "pdq_dihedral":
            if not isinstance(value, dict) or not all(
                isinstance(v, str) and is_valid_hex("pdq", v) for v in value.values()
            ):
                return "pdq_dihedral: variant name -> PDQ (64 lower-case hex)."
        elif name == "vpdq":
            if not isinstance(value, list) or not all(_valid_frame(f) for f in value):
                return 'vpdq: a list of {"frame", "timestamp", "pdq", "quality"}.'
        elif name not in HEX_LENGTHS or not is_valid_hex(name, value):
            return f"{name}: lower-case hex of its length."
    return None


def _valid_frame(frame: object) -> bool:
    if not isinstance(frame, dict) or not is_valid_hex("pdq", frame.get("pdq")):
        return False
    # Each a number in range, so that a huge JSON integer never reaches float().
    limits = {"frame": 2**31, "timestamp": 1e9, "quality": 101}
    for key, limit in limits.items():
        value = frame.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not 0 <= value < limit:
            return False
    return True


def serve(db_path: str, *, host: str = "127.0.0.1", port: int = 8765) -> None:  # pragma: no cover
    with IndexServer((host, port), db_path) as server:
        server.serve_forever()
