"""Issue 10, finding 3: tiny uploads that decode to huge images cannot tie up the server.

A 1-bit PNG of 64 megapixels is a few kilobytes and used to cost ~735 MB and
seconds each to decode; a request of 100 of them held a worker until it was
killed. Now the case-creation throttle is checked before anything is hashed,
every file's pixel count is read from its header before it is decoded (a
per-file cap and a per-request budget), files are decoded one at a time per
process, and peak memory is measured here, in this process, from the kernel's
own high-water mark (VmHWM, reset through /proc/self/clear_refs).

The bound stated in docs/security.md: peak resident memory of one
server-side hashing request grows by at most about 12 bytes a pixel of the
largest accepted file (TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE, 24 MP: ~290 MB)
plus the request body (TAKEBACK_MAX_UPLOAD_BYTES); MEMORY_BOUND_MB below.
"""

import io
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

import hashing
from portal.cases import server_hashing
from portal.cases.models import Case

pytestmark = pytest.mark.django_db

MEMORY_BOUND_MB = 24 * 12 + 30 + 40  # one 24 MP decode, the body, and slack for the page


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def _blank_png(megapixels: float, mode: str = "1") -> bytes:
    side = int((megapixels * 1_000_000) ** 0.5)
    buffer = io.BytesIO()
    Image.new(mode, (side, side)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _files(data: bytes, count: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"{n}.png", data, content_type="image/png") for n in range(count)]


class PeakMemory:
    """Growth of this process's peak resident memory (VmHWM) during the block, in MB."""

    def __enter__(self) -> "PeakMemory":
        if not Path("/proc/self/clear_refs").exists():
            pytest.skip("needs Linux /proc to measure peak memory")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self.start = self._read("VmHWM")
        return self

    def __exit__(self, *exc) -> None:
        self.grown_mb = (self._read("VmHWM") - self.start) / 1024

    @staticmethod
    def _read(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(field)


def test_a_request_of_tiny_huge_images_is_refused_from_their_headers(client, eligible):
    data = _blank_png(64)
    assert len(data) < 20_000  # the attack: kilobytes on the wire
    hashing.warm_up()
    with PeakMemory() as peak:
        started = time.monotonic()
        response = client.post(reverse("web:upload"), {"files": _files(data, 5), "consent": "on"})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and b"too many pixels" in response.content
    assert not Case.objects.exists()
    assert elapsed < 2.0, elapsed
    assert peak.grown_mb < 100, peak.grown_mb


def test_peak_memory_of_the_largest_accepted_file_is_within_the_stated_bound(client, eligible):
    hashing.warm_up()
    data = _blank_png(23.5, "RGB")
    with PeakMemory() as peak:
        response = client.post(reverse("web:upload"), {"files": _files(data, 2), "consent": "on"})
    assert response.status_code in {200, 302} and Case.objects.count() == 1  # hashed, created
    assert peak.grown_mb < MEMORY_BOUND_MB, peak.grown_mb


def test_a_request_has_a_total_pixel_budget(client, eligible, settings):
    settings.TAKEBACK_UPLOAD_MAX_PIXELS_PER_REQUEST = 2_500_000
    data = _blank_png(1, "RGB")
    response = client.post(reverse("web:upload"), {"files": _files(data, 3), "consent": "on"})
    # The third file doesn't fit the budget: it is named, the first two are not.
    assert b"2.png" in response.content and b"1.png:" not in response.content
    assert b"too many pixels" in response.content and not Case.objects.exists()


def test_the_creation_throttle_is_checked_before_anything_is_hashed(
    client, eligible, settings, monkeypatch
):
    settings.TAKEBACK_CASE_CREATION_MAX_PER_CLIENT = 0
    hashed: list[int] = []
    real = hashing.hash_bytes
    monkeypatch.setattr(hashing, "hash_bytes", lambda data, **kw: hashed.append(1) or real(data))
    response = client.post(
        reverse("web:upload"), {"files": _files(_blank_png(1, "RGB"), 2), "consent": "on"}
    )
    assert b"Too many cases" in response.content and not Case.objects.exists()
    assert hashed == []


def test_refused_uploads_do_not_use_the_case_creation_quota(client, eligible, settings):
    settings.TAKEBACK_CASE_CREATION_MAX_PER_CLIENT = 2
    for _ in range(4):  # each refused: not an image
        client.post(reverse("web:upload"), {"files": _files(b"not an image", 1), "consent": "on"})
    response = client.post(
        reverse("web:upload"), {"files": _files(_blank_png(1, "RGB"), 1), "consent": "on"}
    )
    assert response.status_code in {200, 302} and Case.objects.count() == 1


def test_uploads_are_hashed_one_at_a_time_in_a_process():
    assert server_hashing.HASHING_SLOTS._value == 1  # a semaphore with one slot
