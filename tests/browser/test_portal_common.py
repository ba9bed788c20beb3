"""Shared pieces of the portal's browser tests (no tests here).

Real images made with Pillow in a temporary directory, a Playwright page on
the live server that fails the test on any script error or CSP violation,
and screenshots into test-artifacts/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image

from tests.hashing.test_video import Clip, clip_bytes

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
NEUTRAL_SITE = "https://www.bbc.co.uk/weather"
# The portal tests' video: 3 scenes of 1 s, 320x240, 30 fps, H.264 in MP4.
PORTAL_CLIP = Clip(seconds_per_scene=1.0)


@dataclass(frozen=True)
class SampleImage:
    path: Path

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def photo(seed: int, width: int = 480, height: int = 360) -> Image.Image:
    """A photo-like picture (shapes, gradients, noise) with a high PDQ quality."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, 3))
    for channel in range(3):
        fx, fy = rng.uniform(1, 5, 2)
        img[..., channel] = (
            60 * np.sin(2 * np.pi * fx * x / width) * np.cos(2 * np.pi * fy * y / height)
        )
    for _ in range(10):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 90)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] += rng.uniform(-90, 90, 3)
    img += 128 + rng.normal(0, 8, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def save(image: Image.Image, path: Path, fmt: str, **params: object) -> SampleImage:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    path.write_bytes(buf.getvalue())
    return SampleImage(path)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, SampleImage]:
    """Several real images: PNG and JPEG photos, a flat picture, a broken file."""
    directory = tmp_path / "my-private-photos"
    directory.mkdir()
    return {
        "beach": save(photo(1), directory / "beach-holiday.png", "PNG"),
        "bedroom": save(photo(2), directory / "bedroom-selfie.png", "PNG"),
        "party": save(photo(3, 640, 480), directory / "party.jpg", "JPEG", quality=90),
        "later": save(photo(4), directory / "found-later.png", "PNG"),
        # A single colour: nothing for PDQ to work with (quality far below the floor).
        "flat": save(Image.new("RGB", (300, 200), (200, 180, 170)), directory / "flat.png", "PNG"),
        "heic": _heic(directory / "IMG_0001.heic"),
        # A real H.264 clip (3 s, PyAV), hashed in the browser with its vPDQ frames.
        "video": SampleImage(_write(directory / "clip.mp4", clip_bytes(PORTAL_CLIP))),
        "broken": SampleImage(
            _write(directory / "broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 400)
        ),
    }


def _heic(path: Path) -> SampleImage:
    import pillow_heif

    pillow_heif.register_heif_opener()
    photo(5, 320, 240).save(path, "HEIF", quality=90)
    return SampleImage(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@dataclass
class PortalPage:
    page: object
    base: str
    errors: list[str]
    artifacts: Path
    prefix: str

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        # From the top, so the sticky header is drawn where a person sees it.
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(self.artifacts / f"{self.prefix}-{name}.png"), full_page=True)

    def choose(self, *paths: Path) -> None:
        """Choose files on the hashing page once its script is listening."""
        self.page.locator("#hash-form[data-ready=true]").wait_for(state="attached")
        self.page.locator("#files").set_input_files([str(p) for p in paths])

    def wait_hashed(self, count: int) -> None:
        """Wait until `count` files have finished (ready, or refused with a message)."""
        self.page.wait_for_function(
            """(n) => {
                const items = [...document.querySelectorAll('#file-list .file-status')];
                return items.length === n && items.every(s =>
                    /is-(ok|warning|error)/.test(s.className));
            }""",
            arg=count,
            timeout=60_000,
        )


@pytest.fixture
def portal_page(chromium, live_server, artifacts_dir, request) -> Iterator[PortalPage]:
    """A fresh browser context at desktop width on the live server."""
    yield from _portal_page(chromium, live_server, artifacts_dir, request, DESKTOP)


@pytest.fixture
def no_js_page(chromium, live_server, artifacts_dir, request) -> Iterator[PortalPage]:
    """A browser context with JavaScript turned off."""
    yield from _portal_page(chromium, live_server, artifacts_dir, request, DESKTOP, js=False)


def _portal_page(
    chromium, live_server, artifacts_dir, request, viewport, *, js: bool = True
) -> Iterator[PortalPage]:
    cache.clear()  # throttle counters live in the cache
    context = chromium.new_context(viewport=viewport, accept_downloads=True, java_script_enabled=js)
    # The quick-exit target is another site: answer it locally (no network).
    context.route(
        re.compile(r"^https://www\.bbc\.co\.uk/.*"),
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>weather</p>"),
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    prefix = f"portal-{request.node.name}-{viewport['width']}{'' if js else '-nojs'}".replace(
        "[", "-"
    ).replace("]", "")
    portal = PortalPage(page, live_server.url, errors, artifacts_dir, prefix)
    try:
        yield portal
    finally:
        context.close()
    # Any script error or Content-Security-Policy violation fails the test.
    assert errors == []


def eligibility(portal: PortalPage, subject: str = "pictured") -> None:
    page = portal.page
    portal.go("/start/")
    page.get_by_label("No, I was 18 or over in all of them").check()
    page.locator(f"input[name=subject][value={subject}]").check()
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/submit/")


def status_login(portal: PortalPage, number: str, pin: str) -> None:
    page = portal.page
    portal.go("/case/")
    if page.url.endswith("/case/status/"):
        # A browser that just made a case is signed in to it: close that first.
        page.get_by_role("button", name="Close my case page").click()
        page.wait_for_url(portal.base + "/")
        portal.go("/case/")
    page.get_by_label("Case number").fill(number)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name="Open my case").click()
