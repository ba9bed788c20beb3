"""hashing/js gives the server's hashes, proven in real Chromium.

Two layers, as issue 4 asks:

* Algorithm layer: the JavaScript gets exactly the RGB pixels the server decoded (Pillow,
  through hashing.decode's policy) and must reproduce PDQ, PDQ quality, pHash and dHash of
  the reference implementations (pdqhash = Meta's C++, imagehash on Pillow) bit for bit.
* Whole pipeline: Chromium decodes each file itself and hashes it through `hashFile` in a
  module Worker; the result is compared with `hashing.hash_image` on the server. Digests
  are always identical; PDQ and pHash are identical on lossless formats and within 2 bits
  on lossy ones, where the browser's JPEG/WebP decoder may round differently from Pillow's.

The measured distances are printed (run with -s) and written to
test-artifacts/browser-parity.md.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

import hashing
from tests.browser.conftest import Site
from tests.browser.images import (
    LOSSLESS,
    ParityImage,
    conformance_images,
    decoded_pixels,
    generated_images,
    hamming,
    reference_hashes,
)

pytestmark = pytest.mark.browser

# Upstream's README: q0003 and q0004 have PDQ quality 3 and 4, so their hashes are unstable
# under any decoder difference. The algorithm layer still requires them to be exact.
UNSTABLE_PDQ = {"q0003.jpg", "q0004.jpg"}
LOSSY_PDQ_PHASH_BITS = 2


@pytest.fixture(scope="session")
def parity_images(conformance_dir: Path, hashing_site: Site, tmp_path_factory) -> list[ParityImage]:
    """Conformance and generated images, each also served by the test site."""
    generated_dir = tmp_path_factory.mktemp("generated-images")
    images = conformance_images() + generated_images(generated_dir)
    for image in images:
        hashing_site.add(image.name, image.path.read_bytes())
    return images


def _write_report(artifacts_dir: Path, name: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    (artifacts_dir / name).write_text(text)


def test_algorithm_layer_is_bit_identical_on_the_servers_pixels(
    hashing_page, hashing_site: Site, parity_images: list[ParityImage], artifacts_dir: Path
) -> None:
    failures = []
    lines = ["| image | size | pdq | quality | phash | dhash |", "|---|---|---|---|---|---|"]
    for index, image in enumerate(parity_images):
        width, height, pixels = decoded_pixels(image.path)
        expected = reference_hashes(width, height, pixels)
        url = hashing_site.add(f"pixels/{index}.raw", pixels)
        engines = hashing_page.evaluate(
            """async ([url, width, height]) => {
                const pixels = new Uint8Array(await (await fetch(url)).arrayBuffer());
                const { hashing, fast } = window.takeback;
                const js = hashing.hashPixels(pixels, width, height, 3);
                if (width <= 64 || height <= 64) return { js, wasm: js, wasmBgra: js };
                // The WebAssembly engine on the same pixels, as RGBA.
                const buffer = new fast.PixelBuffer(width, height);
                for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
                    buffer.rgba[i] = pixels[j];
                    buffer.rgba[i + 1] = pixels[j + 1];
                    buffer.rgba[i + 2] = pixels[j + 2];
                    buffer.rgba[i + 3] = 255;
                }
                const wasm = buffer.hash();
                // And with the bytes in BGRA order, as VideoFrame hands them over natively.
                const bgra = new fast.PixelBuffer(width, height);
                for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
                    bgra.rgba[i] = pixels[j + 2];
                    bgra.rgba[i + 1] = pixels[j + 1];
                    bgra.rgba[i + 2] = pixels[j];
                    bgra.rgba[i + 3] = 255;
                }
                const wasmBgra = bgra.hash("BGRA");
                return { js, wasm, wasmBgra };
            }""",
            [url, width, height],
        )
        got = engines["js"]
        assert engines["wasm"] == got, f"{image.name}: WebAssembly and JavaScript engines differ"
        assert engines["wasmBgra"] == got, f"{image.name}: WebAssembly on BGRA differs"
        same = {key: got[key] == expected[key] for key in expected}
        lines.append(
            f"| {image.name} | {width}x{height} | "
            + " | ".join("same" if same[k] else f"DIFF {got[k]} vs {expected[k]}" for k in expected)
            + " |"
        )
        if not all(same.values()):
            failures.append((image.name, got, expected))
        # The reference sets exactly half the bits of any image with detail (median rule).
        if expected["pdq_quality"] >= 50:
            assert int(got["pdq"], 16).bit_count() == 128, image.name
    _write_report(artifacts_dir, "browser-parity-algorithm.md", lines)
    assert failures == []
    assert len(parity_images) >= 50


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (4000, 3000),  # a 12 MP photo: dHash's weights fit 16 bits, pHash's need two parts
        (3000, 4000),  # the same, portrait
        (2003, 1501),  # odd sizes: the last block of rows is short
        (6000, 4000),  # 24 MP: both fit 16 bits
    ],
)
def test_webassembly_engine_is_bit_identical_on_large_photos(
    hashing_page, hashing_site: Site, width: int, height: int
) -> None:
    """fast.js hashes a block of rows at a time and takes the Lanczos sums 8 taps at a time;
    photo sizes exercise every path of that against the references (pdqhash, imagehash)."""
    import numpy as np

    from tests.browser.images import _photo

    # A photo-like picture at low resolution, upscaled, with per-pixel noise.
    rgb = np.asarray(_photo(width // 8, height // 8, seed=width + height).resize((width, height)))
    noise = np.random.default_rng(width).integers(-6, 7, rgb.shape)
    pixels = np.clip(rgb.astype(np.int16) + noise, 0, 255).astype(np.uint8).tobytes()
    expected = reference_hashes(width, height, pixels)
    url = hashing_site.add(f"pixels/large-{width}x{height}.raw", pixels)
    got = hashing_page.evaluate(
        """async ([url, width, height]) => {
            const pixels = new Uint8Array(await (await fetch(url)).arrayBuffer());
            const { fast } = window.takeback;
            const out = {};
            for (const order of ["RGBA", "BGRA"]) {
                const buffer = new fast.PixelBuffer(width, height);
                const rgba = buffer.rgba;
                const [r, b] = order === "RGBA" ? [0, 2] : [2, 0];
                for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
                    rgba[i + r] = pixels[j];
                    rgba[i + 1] = pixels[j + 1];
                    rgba[i + b] = pixels[j + 2];
                    rgba[i + 3] = 255;
                }
                out[order] = buffer.hash(order);
            }
            return out;
        }""",
        [url, width, height],
    )
    assert got["RGBA"] == expected
    assert got["BGRA"] == expected


def test_browser_decoding_matches_the_server_pixel_for_pixel_on_lossless_files(
    hashing_page, parity_images: list[ParityImage], artifacts_dir: Path
) -> None:
    """The browser's own decode + orientation + flattening gives the server's exact RGB.

    Lossy files are compared too and reported (not required: decoders may differ)."""
    mismatched = []
    lossy_report = ["| lossy image | pixels identical to Pillow's |", "|---|---|"]
    for image, readback in itertools.product(parity_images, ("videoframe", "canvas")):
        if image.kind != LOSSLESS and readback == "canvas":
            continue
        width, height, pixels = decoded_pixels(image.path)
        got = hashing_page.evaluate(
            """async ([url, readback]) => {
                const blob = await (await fetch(url)).blob();
                const { rgba, width, height } = await window.takeback.hashing.decodeToRgba(
                    blob, { readback });
                window.takeback.hashing.flattenOnWhite(rgba);
                const rgb = new Uint8Array(width * height * 3);
                for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
                    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
                }
                const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rgb));
                const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
                return { width, height, sha256: hex };
            }""",
            ["/" + image.name, readback],
        )
        expected = {"width": width, "height": height, "sha256": hashlib.sha256(pixels).hexdigest()}
        if image.kind != LOSSLESS:
            lossy_report.append(f"| {image.name} | {'yes' if got == expected else 'no'} |")
        elif got != expected:
            mismatched.append((image.name, readback))
    _write_report(artifacts_dir, "browser-parity-lossy-pixels.md", lossy_report)
    assert mismatched == []


def test_flattening_matches_the_server_for_every_colour_and_alpha(
    hashing_page, hashing_site: Site, tmp_path: Path
) -> None:
    """All 65,536 (colour, alpha) pairs: Chromium's premultiplied canvas loses the exact
    colour of translucent pixels, but never the part the white composite depends on."""
    import numpy as np
    from PIL import Image

    ramp = np.arange(256, dtype=np.uint8)
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[..., 0] = ramp[None, :]
    rgba[..., 1] = 255 - ramp[None, :]
    rgba[..., 2] = (ramp[None, :].astype(np.uint16) * 7 % 256).astype(np.uint8)
    rgba[..., 3] = ramp[:, None]
    path = tmp_path / "alpha-grid.png"
    Image.fromarray(rgba, "RGBA").save(path)
    url = hashing_site.add("generated/alpha-grid.png", path.read_bytes())
    _, _, expected = decoded_pixels(path)
    for readback in ("videoframe", "canvas"):
        got = hashing_page.evaluate(
            """async ([url, readback]) => {
                const blob = await (await fetch(url)).blob();
                const { rgba } = await window.takeback.hashing.decodeToRgba(blob, { readback });
                window.takeback.hashing.flattenOnWhite(rgba);
                return Array.from(rgba.filter((_, i) => i % 4 !== 3));
            }""",
            [url, readback],
        )
        assert bytes(got) == expected, readback
    # And through the WebAssembly engine, which flattens in its own loop.
    got = hashing_page.evaluate(
        """async (url) => {
            const blob = await (await fetch(url)).blob();
            const { hashing } = window.takeback;
            const bitmap = await hashing.decodeBitmap(blob);
            const wasm = await hashing.hashBitmap(bitmap, { engine: "auto" });
            const js = await hashing.hashBitmap(bitmap, { engine: "js" });
            bitmap.close();
            return { wasm, js };
        }""",
        url,
    )
    assert got["wasm"] == got["js"] == reference_hashes(256, 256, expected)


def test_whole_pipeline_in_a_worker_matches_the_server(
    hashing_page, parity_images: list[ParityImage], artifacts_dir: Path
) -> None:
    problems = []
    lines = [
        "| image | kind | md5/sha256 | pdq bits | quality (js/py) | phash bits | dhash bits |",
        "|---|---|---|---|---|---|---|",
    ]
    for image in parity_images:
        expected = hashing.hash_image(image.path)
        got = hashing_page.evaluate(
            """async ([url, name]) => {
                const blob = await (await fetch(url)).blob();
                const file = new File([blob], name, { type: blob.type });
                window.__hasher ||= new window.takeback.WorkerHasher();
                const stages = new Set();
                const result = await window.__hasher.hash(file, (p) => stages.add(p.stage));
                return { ...result, stages: [...stages] };
            }""",
            ["/" + image.name, Path(image.name).name],
        )
        digests_same = got["md5"] == expected["md5"] and got["sha256"] == expected["sha256"]
        pdq_bits = hamming(got["pdq"], expected["pdq"])
        phash_bits = hamming(got["phash"], expected["phash"])
        dhash_bits = hamming(got["dhash"], expected["dhash"])
        lines.append(
            f"| {image.name} | {image.kind} | {'same' if digests_same else 'DIFF'} | {pdq_bits} "
            f"| {got['pdq_quality']}/{expected['pdq_quality']} | {phash_bits} | {dhash_bits} |"
        )
        if got["media"] != "image" or not digests_same or "done" not in got["stages"]:
            problems.append((image.name, "record", got))
        if image.kind == LOSSLESS:
            exact = (pdq_bits, phash_bits, dhash_bits) == (0, 0, 0)
            if not exact or got["pdq_quality"] != expected["pdq_quality"]:
                problems.append((image.name, "lossless must be identical", pdq_bits, phash_bits))
        elif Path(image.name).name not in UNSTABLE_PDQ and (
            pdq_bits > LOSSY_PDQ_PHASH_BITS or phash_bits > LOSSY_PDQ_PHASH_BITS
        ):
            problems.append((image.name, "lossy beyond 2 bits", pdq_bits, phash_bits))
    _write_report(artifacts_dir, "browser-parity-pipeline.md", lines)
    assert problems == []
