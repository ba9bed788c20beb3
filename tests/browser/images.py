"""Test images for the browser parity suite, and the Python side's answers for them.

The generated images are made deterministically with Pillow in a temporary directory (never
committed): one photo-like picture saved in every format the browser path supports, so the
browser's decoders are compared with Pillow's on the same picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from hashing.decode import open_image, rgb_pixels

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")

# How the browser's decoder relates to Pillow's for each kind of file.
LOSSLESS = "lossless"  # PNG, GIF, lossless WebP: the decoded pixels must be identical
LOSSY = "lossy"  # JPEG, lossy WebP: decoders may round differently (IDCT, chroma upsampling)


@dataclass(frozen=True)
class ParityImage:
    name: str  # path relative to the served site root
    path: Path
    kind: str  # LOSSLESS or LOSSY


def conformance_images() -> list[ParityImage]:
    """Every image in the shared PDQ and imagehash conformance sets."""
    paths = sorted(
        p for p in (CONFORMANCE / "pdq" / "data").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
    )
    paths.append(CONFORMANCE / "imagehash" / "imagehash.png")
    images = []
    for path in paths:
        rel = path.relative_to(CONFORMANCE).as_posix()
        images.append(ParityImage(f"conformance/{rel}", path, _kind_of(path)))
    return images


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".png", ".gif"):
        return LOSSLESS
    if suffix == ".webp":
        # Lossless WebP is the VP8L bitstream; read the RIFF chunk id (an extended VP8X file
        # names its image chunk later, so look for it anywhere in the header area).
        head = path.read_bytes()[:4096]
        return LOSSLESS if b"VP8L" in head and b"VP8 " not in head else LOSSY
    return LOSSY


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """A deterministic photo-like RGB picture: smooth shapes, texture and mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x /= width
    y /= height
    img = np.zeros((height, width, 3))
    for channel in range(3):
        for _ in range(6):
            fx, fy = rng.uniform(0.5, 6.0, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            img[..., channel] += (
                rng.uniform(10, 40)
                * np.sin(2 * np.pi * fx * x + px)
                * np.cos(2 * np.pi * fy * y + py)
            )
    for _ in range(12):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.03, 0.2)
        colour = rng.uniform(-90, 90, 3)
        mask = ((x - cx) ** 2 + ((y - cy) * height / width) ** 2) < r * r
        img[mask] += colour
    img += 128 + rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def _animation(first: Image.Image, fmt: str, **params: object) -> bytes:
    """Two frames; only the first is hashed (the decoding policy)."""
    second = first.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return _save(first, fmt, save_all=True, append_images=[second], duration=300, loop=0, **params)


def _sixteen_bit(grey: Image.Image) -> Image.Image:
    """A 16-bit greyscale image whose high bytes are `grey` and whose low bytes vary."""
    high = np.asarray(grey, np.uint16)
    return Image.fromarray(high * 256 + (high * 37 % 256))


def _with_orientation(image: Image.Image, orientation: int, **params: object) -> bytes:
    """A JPEG whose stored pixels are `image` turned so that EXIF `orientation` undoes it."""
    # The inverse of what a viewer applies, so the displayed picture is `image` again.
    undo = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    fmt = str(params.pop("format", "JPEG"))
    if fmt == "JPEG":
        params.setdefault("quality", 92)
    return _save(image.transpose(undo), fmt, exif=exif, **params)


def generated_images(directory: Path) -> list[ParityImage]:
    """Write the generated set into `directory` and describe it."""
    photo = _photo(640, 480, seed=4)
    rgba = photo.convert("RGBA")
    alpha = np.zeros((480, 640), np.uint8)
    alpha[:, :] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    alpha[100:200, 100:300] = 255
    alpha[300:380, 400:600] = 0
    rgba.putalpha(Image.fromarray(alpha, "L"))
    grey = photo.convert("L")
    frames = [photo.quantize(256, dither=Image.Dither.NONE), _photo(640, 480, seed=9).quantize(256)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    transparent_gif = io.BytesIO()
    pal = photo.quantize(255, dither=Image.Dither.NONE)
    pal_px = np.asarray(pal).copy()
    pal_px[50:150, 50:250] = 255  # palette slot 255 is the transparent one
    pal2 = Image.fromarray(pal_px, "P")
    pal2.putpalette(pal.getpalette())
    pal2.save(transparent_gif, "GIF", transparency=255)

    files = {
        "jpeg-baseline-420.jpg": (_save(photo, "JPEG", quality=90), LOSSY),
        "jpeg-baseline-444.jpg": (_save(photo, "JPEG", quality=95, subsampling=0), LOSSY),
        "jpeg-progressive.jpg": (_save(photo, "JPEG", quality=90, progressive=True), LOSSY),
        "jpeg-greyscale.jpg": (_save(grey, "JPEG", quality=90), LOSSY),
        **{
            f"jpeg-exif-orientation-{o}.jpg": (_with_orientation(photo, o), LOSSY)
            for o in (2, 3, 4, 6, 7, 8)
        },
        "jpeg-exif-orientation-5.jpg": (_with_orientation(photo, 5, progressive=True), LOSSY),
        "png-exif-orientation-6.png": (_with_orientation(photo, 6, format="PNG"), LOSSLESS),
        "png-exif-orientation-7.png": (_with_orientation(photo, 7, format="PNG"), LOSSLESS),
        "png-rgb.png": (_save(photo, "PNG"), LOSSLESS),
        "png-rgba-partial-alpha.png": (_save(rgba, "PNG"), LOSSLESS),
        "png-greyscale.png": (_save(grey, "PNG"), LOSSLESS),
        "png-greyscale-alpha.png": (_save(rgba.convert("LA"), "PNG"), LOSSLESS),
        "png-palette.png": (_save(photo.quantize(256), "PNG"), LOSSLESS),
        # 16-bit samples: the server keeps the high byte, and so does Chromium.
        "png-greyscale-16bit.png": (_save(_sixteen_bit(grey), "PNG"), LOSSLESS),
        "gif-animated.gif": (gif.getvalue(), LOSSLESS),
        "apng-animated.png": (_animation(photo, "PNG"), LOSSLESS),
        "webp-animated-lossless.webp": (_animation(photo, "WEBP", lossless=True), LOSSLESS),
        "gif-transparent.gif": (transparent_gif.getvalue(), LOSSLESS),
        "webp-lossless.webp": (_save(photo, "WEBP", lossless=True), LOSSLESS),
        "webp-lossless-alpha.webp": (_save(rgba, "WEBP", lossless=True, exact=True), LOSSLESS),
        "webp-lossy.webp": (_save(photo, "WEBP", quality=90), LOSSY),
    }
    images = []
    for name, (data, kind) in files.items():
        path = directory / name
        path.write_bytes(data)
        images.append(ParityImage(f"generated/{name}", path, kind))
    return images


def decoded_pixels(path: Path) -> tuple[int, int, bytes]:
    """The RGB pixels the server hashes: hashing.decode's policy."""
    return rgb_pixels(open_image(path))


def reference_hashes(width: int, height: int, pixels: bytes) -> dict[str, object]:
    """PDQ via pdqhash (Meta's C++) and pHash/dHash via imagehash on exactly these pixels."""
    array = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
    bits, quality = pdqhash.compute(array)
    image = Image.fromarray(array, "RGB")
    return {
        "pdq": f"{int(''.join(str(int(b)) for b in bits), 2):064x}",
        "pdq_quality": int(quality),
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
    }


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
