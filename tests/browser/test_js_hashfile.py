"""hashFile's contract in Chromium: record shape, non-image files, errors, no network."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import hashing
from tests.browser.conftest import Site

pytestmark = pytest.mark.browser

HASH_IN_WORKER = """async ([url, name, type]) => {
    const blob = await (await fetch(url)).blob();
    const file = new File([blob], name, { type });
    window.__hasher ||= new window.takeback.WorkerHasher();
    try {
        return { ok: true, result: await window.__hasher.hash(file) };
    } catch (err) {
        return { ok: false, code: err.code, message: err.message };
    }
}"""


def _hash_in_worker(page, url: str, name: str, mime: str = "") -> dict:
    return page.evaluate(HASH_IN_WORKER, [url, name, mime])


def test_hash_file_on_the_page_gives_the_cli_record(
    hashing_page, hashing_site: Site, tmp_path
) -> None:
    rng = np.random.default_rng(11)
    image = Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), "RGB")
    path = tmp_path / "noise.png"
    image.save(path)
    url = hashing_site.add("hashfile/noise.png", path.read_bytes())
    got = hashing_page.evaluate(
        """async (url) => {
            const blob = await (await fetch(url)).blob();
            return await window.takeback.hashing.hashFile(new File([blob], "noise.png"));
        }""",
        url,
    )
    assert got == hashing.hash_image(path)
    assert set(got) == {"media", "md5", "sha256", "pdq", "pdq_quality", "phash", "dhash"}


@pytest.mark.parametrize(
    ("name", "mime", "media"),
    [
        ("notes.txt", "text/plain", "other"),
        ("clip.mp4", "video/mp4", "video"),
        ("clip.MOV", "", "video"),
        ("archive.bin", "", "other"),
    ],
)
def test_non_image_files_get_digests_only(
    hashing_page, hashing_site: Site, name: str, mime: str, media: str
) -> None:
    data = hashlib.sha512(name.encode()).digest() * 1000
    url = hashing_site.add(f"hashfile/{name}", data)
    got = _hash_in_worker(hashing_page, url, name, mime)
    assert got == {
        "ok": True,
        "result": {
            "media": media,
            "md5": hashlib.md5(data).hexdigest(),  # noqa: S324 (a published file hash, not security)
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    }


def test_digests_stream_a_large_file(hashing_page, hashing_site: Site) -> None:
    # 150 MB, far more than one read chunk: the digest must cover every chunk in order.
    block = np.random.default_rng(5).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    data = b"".join(bytes([i]) + block for i in range(150))
    url = hashing_site.add("hashfile/large.bin", data)
    got = _hash_in_worker(hashing_page, url, "large.bin")
    assert got["ok"] is True
    assert got["result"]["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324
    assert got["result"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_corrupt_image_is_a_clear_error(hashing_page, hashing_site: Site) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "JPEG")
    truncated = buf.getvalue()[:40]
    url = hashing_site.add("hashfile/broken.jpg", truncated)
    got = _hash_in_worker(hashing_page, url, "broken.jpg", "image/jpeg")
    assert got["ok"] is False
    assert got["code"] == "unreadable"
    assert "could not be read as an image" in got["message"]


def test_heic_is_reported_as_unsupported_in_this_browser(hashing_page, hashing_site: Site) -> None:
    # Chromium has no HEIC decoder; the page must offer the server path instead.
    url = hashing_site.add("hashfile/photo.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    got = _hash_in_worker(hashing_page, url, "photo.heic", "image/heic")
    assert got["ok"] is False
    assert got["code"] == "unsupported"
    assert "server-side hashing" in got["message"]


def test_hashing_sends_nothing_over_the_network(chromium, hashing_site: Site, tmp_path) -> None:
    rng = np.random.default_rng(12)
    path = tmp_path / "private.png"
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8), "RGB").save(path)
    url = hashing_site.add("hashfile/private.png", path.read_bytes())
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(hashing_site.url + "/index.html")
        page.wait_for_function("window.takebackReady === true")
        # Load the file and warm the worker (its module loads are requests) before watching.
        page.evaluate(
            """async (url) => {
                window.__file = new File([await (await fetch(url)).blob()], "private.png");
                window.__hasher = new window.takeback.WorkerHasher();
                await window.__hasher.hash(new Blob(["warm-up"]));
            }""",
            url,
        )
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        result = page.evaluate("async () => await window.__hasher.hash(window.__file)")
        assert result["pdq"] == hashing.hash_image(path)["pdq"]
        assert requests == []
    finally:
        context.close()


def test_files_hashed_at_the_same_time_in_one_worker_do_not_mix(
    hashing_page, hashing_site: Site, tmp_path
) -> None:
    # The WebAssembly engine keeps one memory between photos; overlapping jobs must not
    # share it.
    rng = np.random.default_rng(13)
    paths = []
    for index, size in enumerate([(640, 480), (640, 480), (500, 700), (641, 479)]):
        path = tmp_path / f"same-time-{index}.png"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    urls = [hashing_site.add(f"hashfile/{p.name}", p.read_bytes()) for p in paths]
    got = hashing_page.evaluate(
        """async (urls) => {
            const files = await Promise.all(urls.map(async (url) =>
                new File([await (await fetch(url)).blob()], url.split("/").pop())));
            const hasher = new window.takeback.WorkerHasher();
            const results = await Promise.all(files.map((file) => hasher.hash(file)));
            hasher.terminate();
            return results;
        }""",
        urls,
    )
    assert got == [hashing.hash_image(path) for path in paths]


def test_a_pool_of_workers_gives_the_same_records_in_order_within_its_size(
    hashing_page, hashing_site: Site, tmp_path
) -> None:
    rng = np.random.default_rng(17)
    paths = []
    for index in range(5):
        path = tmp_path / f"pool-{index}.png"
        pixels = rng.integers(0, 256, (360 + index, 480, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    urls = [hashing_site.add(f"hashfile/{p.name}", p.read_bytes()) for p in paths]
    got = hashing_page.evaluate(
        """async (urls) => {
            const files = await Promise.all(urls.map(async (url) =>
                new File([await (await fetch(url)).blob()], url.split("/").pop())));
            const pool = new window.takeback.WorkerPool(undefined, { size: 3 });
            let most = 0;
            const jobs = files.map((file) => pool.hash(file, () => {
                most = Math.max(most, pool.slots.filter((s) => s.busy).length);
            }));
            const results = await Promise.all(jobs);
            const workers = pool.slots.length;
            pool.terminate();
            return { results, workers, most };
        }""",
        urls,
    )
    assert got["results"] == [hashing.hash_image(path) for path in paths]
    assert got["workers"] == 3 and 1 <= got["most"] <= 3


def test_the_pool_size_follows_cores_and_memory(hashing_page) -> None:
    sizes = hashing_page.evaluate(
        """() => [[8, 8], [8, 1], [2, 0], [1, 4], [16, 0.5]]
            .map(([cores, memoryGb]) => window.takeback.defaultPoolSize({ cores, memoryGb }))"""
    )
    # At most 4, one per core, about half a gigabyte of device memory each.
    assert sizes == [4, 2, 2, 1, 1]


def test_pixel_buffers_alive_at_the_same_time_have_their_own_memory(hashing_page) -> None:
    got = hashing_page.evaluate(
        """() => {
            const { fast, hashing } = window.takeback;
            const fill = (buffer, seed) => {
                for (let i = 0; i < buffer.rgba.length; i++) {
                    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
                    buffer.rgba[i] = (i & 3) === 3 ? 255 : (seed >>> 16) & 255;
                }
                return buffer.rgba.slice();
            };
            const a = new fast.PixelBuffer(300, 200);
            const pixelsA = fill(a, 1);
            const b = new fast.PixelBuffer(300, 200);
            const pixelsB = fill(b, 2);
            return {
                a: a.hash(), b: b.hash(),
                expectedA: hashing.hashPixels(pixelsA, 300, 200, 4),
                expectedB: hashing.hashPixels(pixelsB, 300, 200, 4),
            };
        }"""
    )
    assert got["a"] == got["expectedA"]
    assert got["b"] == got["expectedB"]
    assert got["a"] != got["b"]


def test_declared_sizes_are_read_from_every_header_format(
    hashing_page, hashing_site: Site, tmp_path
) -> None:
    picture = Image.fromarray(
        np.random.default_rng(14).integers(0, 256, (123, 321, 3), dtype=np.uint8), "RGB"
    )
    exif = Image.Exif()
    exif[0x0112] = 6
    variants = {
        "a.png": {"format": "PNG"},
        "a.gif": {"format": "GIF"},
        "a.jpg": {"format": "JPEG", "exif": exif, "icc_profile": b"\0" * 70_000},
        "p.jpg": {"format": "JPEG", "progressive": True},
        "a.bmp": {"format": "BMP"},
        "lossy.webp": {"format": "WEBP", "quality": 80},
        "lossless.webp": {"format": "WEBP", "lossless": True},
        "extended.webp": {"format": "WEBP", "exif": exif},
    }
    for name, params in variants.items():
        buf = io.BytesIO()
        picture.save(buf, **params)
        url = hashing_site.add(f"headers/{name}", buf.getvalue())
        got = hashing_page.evaluate(
            """async (url) => window.takeback.header.declaredSize(
                await (await fetch(url)).blob())""",
            url,
        )
        assert got == {"width": 321, "height": 123}, name


def test_a_decompression_bomb_is_refused_from_its_header(hashing_page, hashing_site: Site) -> None:
    # A PNG that declares 20000x20000 pixels (400 MP) and carries no image data: refused
    # as too large from the header alone. Were it handed to the decoder, it would fail as
    # unreadable instead (and a real one would cost gigabytes to decode).
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    url = hashing_site.add("hashfile/bomb.png", png)
    got = hashing_page.evaluate(
        """async (url) => {
            const blob = await (await fetch(url)).blob();
            const { header, hashing } = window.takeback;
            const declared = await header.declaredSize(blob);
            try {
                await hashing.decodeBitmap(blob);
                return { declared, code: null };
            } catch (err) {
                return { declared, code: err.code, message: err.message };
            }
        }""",
        url,
    )
    assert got["declared"] == {"width": 20_000, "height": 20_000}
    assert got["code"] == "too-large"
    assert "20000x20000" in got["message"]
