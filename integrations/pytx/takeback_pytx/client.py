"""A small HTTP client for the parts of Takeback's native API that the exchange uses.

Feed pages (`GET /api/v1/hashes/feed`), feedback (`POST /api/v1/feedback`) and
acknowledgements (`POST /api/v1/acknowledge`), with the bearer key. Errors come back as
Takeback's one JSON shape (`{"code", "message", "details"}`) and are raised as
`TakebackAPIError` carrying that `code`.
"""

import ipaddress
import time
import typing as t
import urllib.parse

import requests

API_PREFIX = "/api/v1"
USER_AGENT = "takeback-pytx/0.1 (python-threatexchange extension)"
# How long one request may take, and how often a throttled (429) request is retried.
TIMEOUT_SECONDS = 30
THROTTLE_RETRIES = 3
# Never sleep longer than this on a Retry-After header, whatever the server says.
MAX_RETRY_AFTER_SECONDS = 60


class TakebackAPIError(Exception):
    """An error answer from Takeback's API (`code` is the field to branch on)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def api_root(base_url: str) -> str:
    """`https://takeback.example` or `…/api/v1` (with or without `/`) → `…/api/v1`.

    The bearer key is refused over plain http except to a loopback address (a local
    test server): it would travel in clear text.
    """
    url = base_url.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise ValueError(f"use https for {parsed.hostname} (http is for loopback only)")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url + API_PREFIX


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FeedPage(t.NamedTuple):
    entries: list[dict[str, t.Any]]
    cursor: str
    position: int
    has_more: bool
    etag: str


class TakebackClient:
    """Authenticated calls to one Takeback server's native API."""

    def __init__(
        self, api_key: str, base_url: str, *, session: requests.Session | None = None
    ) -> None:
        self.root = api_root(base_url)
        self._session = session or requests.Session()
        self._session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        self._session.close()

    def feed_page(self, *, cursor: str | None, limit: int, etag: str = "") -> FeedPage | None:
        """One page of the feed after `cursor` (from the start without one); None on 304."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", "/hashes/feed", params=params, headers=headers)
        if response.status_code == 304:
            return None
        body = response.json()
        return FeedPage(
            entries=body["entries"],
            cursor=body["cursor"],
            position=body["position"],
            has_more=body["has_more"],
            etag=response.headers.get("ETag", ""),
        )

    def feedback(self, reports: t.Sequence[t.Mapping[str, str]]) -> list[dict[str, str]]:
        """Send reports (`algorithm`, `value`, `outcome`, optional `case_id`); their results."""
        response = self._request("POST", "/feedback", json={"feedback": list(reports)})
        results: list[dict[str, str]] = response.json()["results"]
        return results

    def acknowledge(self, *, cursor: str) -> dict[str, t.Any]:
        """Tell the server every change up to `cursor` has been applied."""
        body: dict[str, t.Any] = self._request(
            "POST", "/acknowledge", json={"cursor": cursor}
        ).json()
        return body

    def _request(self, method: str, path: str, **kwargs: t.Any) -> requests.Response:
        for attempt in range(THROTTLE_RETRIES + 1):
            response = self._session.request(
                method, self.root + path, timeout=TIMEOUT_SECONDS, **kwargs
            )
            if response.status_code == 429 and attempt < THROTTLE_RETRIES:
                wait = _retry_after(response.headers.get("Retry-After"))
                response.close()
                time.sleep(wait)
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(header: str | None) -> float:
    try:
        seconds = float(header) if header else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _error(response: requests.Response) -> TakebackAPIError:
    try:
        body = response.json()
        code, message = str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200]
    finally:
        response.close()
    return TakebackAPIError(response.status_code, code, message)
