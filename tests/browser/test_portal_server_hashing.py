"""The server-side hashing path with JavaScript off, and the proof that uploads leave no trace.

After real uploads through Chromium (multipart, as a browser without
JavaScript sends them), no file in the temporary directory, the media root or
var/, no row of any database table and no log record contains a 64-byte run
unique to the uploaded files.
"""

from __future__ import annotations

import base64
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from django.conf import settings
from django.db import connection
from PIL import Image
from playwright.sync_api import expect

import hashing
from portal.cases.models import Case
from tests.browser import test_portal_common as common

pytestmark = [pytest.mark.browser]

no_js_page = common.no_js_page
RUN = 64


def _noise_image(path: Path, fmt: str, seed: int) -> bytes:
    """An image whose encoded bytes are effectively random, so any 64-byte run is unique."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    # Smooth structure on top of the noise keeps PDQ quality high.
    pixels[40:120, 50:150] //= 3
    image = Image.fromarray(pixels, "RGB")
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
        image.save(path, fmt, quality=95)
    else:
        image.save(path, fmt)
    return path.read_bytes()


def _runs(data: bytes) -> list[bytes]:
    """A few 64-byte runs from the file body (past any header that images share)."""
    return [data[i : i + RUN] for i in range(len(data) // 4, len(data) - RUN, len(data) // 5)][:4]


def _spellings(run: bytes) -> list[bytes]:
    return [run, run.hex().encode(), base64.b64encode(run), repr(run).encode()]


def _files_containing(runs: list[bytes], roots: list[Path], since: float, skip: set[Path]):
    found = []
    needles = [s for r in runs for s in _spellings(r)]
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(root, onerror=lambda e: None):
            for name in names:
                path = Path(dirpath) / name
                try:
                    if path in skip or not path.is_file() or path.stat().st_mtime < since:
                        continue
                    if path.stat().st_size > 200 * 1024 * 1024:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if any(n in data for n in needles):
                    found.append(path)
    return found


def _tables_containing(runs: list[bytes]) -> list[str]:
    found = []
    needles = [s for r in runs for s in _spellings(r)]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        blob = bytes(value)
                    else:
                        blob = str(value).encode("utf-8", "surrogateescape")
                    if any(n in blob for n in needles):
                        found.append(table)
    return found


def _logs_containing(runs: list[bytes], records, text: str) -> list[str]:
    needles = [s.decode("latin-1") for r in runs for s in _spellings(r)] + [
        r.decode("latin-1") for r in runs
    ]
    found = []
    for record in records:
        rendered = f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        if any(n in rendered for n in needles):
            found.append(record.name)
    if any(n in text for n in needles):
        found.append("captured output")
    return found


def _upload(portal, paths: list[Path], *, consent: bool = True) -> None:
    page = portal.page
    page.locator("input[name=files]").set_input_files([str(p) for p in paths])
    if consent:
        page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Send for hashing").click()


@pytest.mark.django_db(transaction=True)
def test_server_side_hashing_without_javascript_leaves_no_trace(
    no_js_page, tmp_path, caplog, capfd
) -> None:
    portal, page = no_js_page, no_js_page.page
    caplog.set_level(logging.DEBUG)
    start = time.time() - 1
    photo, heic, junk = tmp_path / "photo.png", tmp_path / "photo.heic", tmp_path / "junk.jpg"
    photo_bytes = _noise_image(photo, "PNG", seed=21)
    heic_bytes = _noise_image(heic, "HEIF", seed=22)
    junk_bytes = b"\xff\xd8\xff\xe0" + np.random.default_rng(23).bytes(5000)
    junk.write_bytes(junk_bytes)
    runs = _runs(photo_bytes) + _runs(heic_bytes) + _runs(junk_bytes)

    # Eligibility works without JavaScript; the hashing page offers the server path.
    common.eligibility(portal)
    expect(page.get_by_role("link", name="Use server-side hashing instead")).to_be_visible()
    page.get_by_role("link", name="Use server-side hashing instead").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hash on our server")
    portal.shot("01-consent")

    # Without consent nothing is hashed or stored.
    _upload(portal, [photo], consent=False)
    expect(page.locator("#upload-consent-error")).to_be_visible()
    assert not Case.objects.exists()

    # A damaged file: named, the good one kept, and nothing is stored yet.
    _upload(portal, [photo, junk])
    expect(page.get_by_role("alert")).to_contain_text("junk.jpg:")
    expect(page.locator("#upload-kept")).to_contain_text("photo.png")
    portal.shot("02-error")
    assert not Case.objects.exists()
    portal.go("/submit/on-server/")

    _upload(portal, [photo, heic])
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you. Your case is open.")
    portal.shot("03-created")
    number = page.locator("#secret-number").inner_text().strip()
    case = Case.objects.get(number=number)
    for data in (photo_bytes, heic_bytes):  # the same hashes the browser or CLI would give
        record = hashing.hash_bytes(data)
        item = case.hashes.get(algorithm="sha256", value=record["sha256"]).item_id
        stored = dict(case.hashes.filter(item_id=item).values_list("algorithm", "value"))
        assert stored == {a: record[a] for a in ("pdq", "phash", "dhash", "md5", "sha256")}

    roots = [Path(tempfile.gettempdir()), Path(settings.VAR_DIR)]
    if settings.MEDIA_ROOT:
        roots.append(Path(settings.MEDIA_ROOT))
    sources = {photo, heic, junk}
    assert _files_containing(runs, roots, start, sources) == []
    assert _tables_containing(runs) == []
    captured = capfd.readouterr()
    assert _logs_containing(runs, caplog.records, captured.out + captured.err) == []

    # The checks can fail: the same scans find a run that was written down.
    leak = Path(tempfile.gettempdir()) / f"takeback-leak-check-{os.getpid()}"
    leak.write_bytes(b"header" + runs[0] + b"trailer")
    try:
        assert _files_containing(runs, roots, start, sources) == [leak]
    finally:
        leak.unlink()
    logging.getLogger("takeback.check").warning("%r", runs[1])
    assert _logs_containing(runs, caplog.records, "") == ["takeback.check"]
