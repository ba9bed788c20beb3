"""The privacy proof: during the whole flow, no image byte leaves the browser, only hashes.

Every request the page makes is recorded (main page, fetches and the Worker).
No request body may contain any 64-byte run of any chosen file, the file names
never appear anywhere in a request, and the one JSON body holds nothing but
media kinds, lower-case hex hashes and PDQ qualities.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import eligibility, status_login

pytestmark = [pytest.mark.browser]

images = common.images
portal_page = common.portal_page

RUN = 64
HEX = re.compile(r"\A[0-9a-f]+\Z")
HASH_LENGTHS = {"pdq": 64, "phash": 16, "dhash": 16, "md5": 32, "sha256": 64}


def _contains_a_run_of(body: bytes, data: bytes) -> bool:
    """True if any RUN-byte window of `data` occurs in `body`."""
    if len(body) < RUN:
        return False
    windows = {body[i : i + RUN] for i in range(len(body) - RUN + 1)}
    return any(data[i : i + RUN] in windows for i in range(len(data) - RUN + 1))


def test_the_run_check_finds_a_leak_when_there_is_one() -> None:
    data = bytes(range(256)) * 4
    assert _contains_a_run_of(b"prefix" + data[300:364] + b"suffix", data)
    assert not _contains_a_run_of(b"prefix" + data[300:363] + b"suffix", data)


def _assert_only_hashes(body: dict) -> None:
    assert set(body) <= {"items", "recovery_code", "organisation"}
    for item in body["items"]:
        assert set(item) <= {"media_kind", "hashes", "pdq_quality", "vpdq"}
        for frame in item.get("vpdq", []):  # a video's frames: numbers and hashes only
            assert set(frame) == {"frame", "timestamp", "pdq", "quality"}
            assert HEX.match(frame["pdq"]) and len(frame["pdq"]) == 64
        assert item["media_kind"] in {"image", "video"}
        assert isinstance(item.get("pdq_quality"), int | type(None))
        for algorithm, value in item["hashes"].items():
            assert HEX.match(value) and len(value) == HASH_LENGTHS[algorithm]


@pytest.mark.django_db(transaction=True)
def test_only_hashes_leave_the_browser(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    requests = []
    page.context.on("request", lambda request: requests.append(request))

    portal.go("/")
    eligibility(portal)
    chosen = [images[k] for k in ("beach", "bedroom", "party", "flat", "video")]
    portal.choose(*(i.path for i in chosen))
    portal.wait_hashed(5)
    page.get_by_role("button", name="Submit fingerprints of 5 files").click()
    expect(page.locator("#created")).to_be_visible()
    number = page.locator("#secret-number").inner_text().strip()
    pin = page.locator("#secret-pin").inner_text().strip()
    status_login(portal, number, pin)
    page.get_by_role("link", name="Add more images").click()
    portal.choose(images["later"].path)
    portal.wait_hashed(1)
    page.get_by_role("button", name="Submit fingerprints of 1 file").click()
    page.wait_for_url("**/case/status/")
    expect(page.locator(".case-item")).to_have_count(6)

    files = [images[k] for k in ("beach", "bedroom", "party", "flat", "video", "later")]
    names = [f.path.name for f in files] + [f.path.stem for f in files]
    json_bodies = []
    assert requests, "nothing was recorded"
    for request in requests:
        # Nothing goes anywhere but the portal itself.
        assert request.url.startswith(portal.base) or request.url.startswith("blob:"), request.url
        assert not any(name in request.url for name in names)
        body = request.post_data_buffer or b""
        for name in names:
            assert name.encode() not in body, (request.url, name)
        for file in files:
            assert not _contains_a_run_of(body, file.data), (request.url, file.path.name)
        content_type = request.headers.get("content-type", "")
        if request.method == "POST":
            assert "multipart" not in content_type
        if content_type.startswith("application/json"):
            json_bodies.append(json.loads(body))
        elif body:
            # The portal's own small forms: CSRF token, answers, case number and PIN.
            fields = set(parse_qs(body.decode()))
            assert fields <= {
                "csrfmiddlewaretoken",
                "age",
                "subject",
                "consent",
                "number",
                "pin",
            }, fields
    assert len(json_bodies) == 2  # one request per submission
    for body in json_bodies:
        _assert_only_hashes(body)
    assert sum(len(b["items"]) for b in json_bodies) == 6
    kinds = [item["media_kind"] for item in json_bodies[0]["items"]]
    assert kinds == ["image", "image", "image", "image", "video"]
