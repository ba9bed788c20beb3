"""A small HTTP client for Takeback's native platform API, on ``urllib.request``.

Speaks ``Authorization: Bearer <api key>``, retries what is worth retrying (connection
errors, 429 and 5xx, honouring ``Retry-After``) with exponential backoff, and turns the
API's JSON errors (``{"code", "message", "details"}``) into ``ApiError``.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

USER_AGENT = "takeback-platform/1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
API_PREFIX = "/api/v1"


def site_root(base_url: str) -> str:
    """The site root of a base URL given as the root or as ``.../api/v1`` (either works)."""
    root = base_url.strip().rstrip("/")
    if root.endswith(API_PREFIX):
        root = root[: -len(API_PREFIX)].rstrip("/")
    return root


class ApiError(Exception):
    """The server refused the request (4xx/5xx) or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class SnapshotUnsupported(ApiError):
    """The server offers no binary snapshot (an older Takeback): use the NDJSON one."""


@dataclass(frozen=True)
class FeedResponse:
    entries: list[dict[str, Any]]
    cursor: str
    position: int
    head: int
    has_more: bool
    etag: str | None


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
    ) -> None:
        # Paths below are the API's full paths, so the root is kept whichever form was given.
        self.given_base_url = base_url
        self.base_url = site_root(base_url)
        self._api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _open(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The open response (caller closes it), after retries; 304 is returned, not raised."""
        url = self._url(path, params)
        if not url.startswith(("http://", "https://")):
            raise ApiError(f"base URL must be http(s): {self.base_url!r}")
        data = None if body is None else json.dumps(body).encode()
        all_headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=all_headers)  # noqa: S310 - scheme checked above
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
            except urllib.error.HTTPError as exc:
                if exc.code == 304:
                    return exc
                if exc.code in RETRY_STATUSES and attempt < self.retries:
                    self._sleep(attempt, exc.headers.get("Retry-After"))
                    attempt += 1
                    exc.close()
                    continue
                error = _api_error(exc)
                if exc.code == 404:
                    raise ApiError(
                        f"{error} at {url.split('?')[0]}: is --base-url right? Expected the "
                        f"site root (https://takeback.example) or its {API_PREFIX} "
                        f"(https://takeback.example{API_PREFIX}); got {self.given_base_url!r}",
                        status=404,
                        code=error.code,
                    ) from None
                raise error from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < self.retries:
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise ApiError(f"cannot reach {self.base_url}: {exc}") from exc

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, 120.0))

    def feed(
        self, *, cursor: str | None, limit: int, etag: str | None = None
    ) -> FeedResponse | None:
        """One page of the incremental feed, or None when ``etag`` still matches (304)."""
        headers = {"If-None-Match": etag} if etag else None
        response = self._open(
            "/api/v1/hashes/feed", params={"cursor": cursor, "limit": limit}, headers=headers
        )
        with response:
            if response.status == 304:
                return None
            body = json.load(response)
            new_etag = response.headers.get("ETag")
        try:
            return FeedResponse(
                entries=list(body["entries"]),
                cursor=str(body["cursor"]),
                position=int(body["position"]),
                head=int(body["head"]),
                has_more=bool(body["has_more"]),
                etag=new_etag,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(f"unexpected feed response: {exc!r}") from exc

    def snapshot_lines(self) -> Iterator[dict[str, Any]]:
        """The NDJSON snapshot, decompressed and parsed line by line as it streams in."""
        response = self._open("/api/v1/hashes/snapshot", params={"format": "ndjson"})
        with response, gzip.GzipFile(fileobj=response) as unzipped:
            for line in io.TextIOWrapper(unzipped, encoding="utf-8"):
                if line.strip():
                    yield json.loads(line)

    def snapshot_chunks(
        self, *, compress: bool = False, chunk_bytes: int = 1 << 20
    ) -> Iterator[bytes]:
        """The binary snapshot's bytes as they stream in (gunzipped if ``compress``).

        Raises ``SnapshotUnsupported`` when the server has no binary snapshot (it
        refuses the format as a bad parameter).
        """
        params = {"format": "binary", "compress": "true" if compress else None}
        try:
            response = self._open("/api/v1/hashes/snapshot", params=params)
        except ApiError as exc:
            if exc.status == 400:
                raise SnapshotUnsupported(str(exc), status=400, code=exc.code) from exc
            raise
        with response:
            gzipped = response.headers.get("Content-Type", "").startswith("application/gzip")
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
            while chunk := response.read(chunk_bytes):
                yield inflate.decompress(chunk) if inflate else chunk
            if inflate:
                yield inflate.flush()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._open(path, body=body) as response:
            answer: dict[str, Any] = json.load(response)
            return answer


def _api_error(exc: urllib.error.HTTPError) -> ApiError:
    code, message = "http_error", f"HTTP {exc.code}"
    try:
        body = json.loads(exc.read() or b"{}")
        code = str(body.get("code") or code)
        message = f"{message}: {body.get('message') or body}"
    except (ValueError, AttributeError):
        pass
    finally:
        exc.close()
    return ApiError(message, status=exc.code, code=code)
