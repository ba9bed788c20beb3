"""The built-in benign seed list: pictures of nothing that must never be shared.

Solid colours, gradients, blank and ruled pages and common UI images (a transparency
checkerboard, an empty avatar, a placeholder frame) are drawn in memory with Pillow
and hashed with the same code as every upload (`hashing.hash_bytes`), so their
PDQ/pHash/dHash are what a browser or the server would compute. Drawn at three
sizes/aspect ratios each. Nothing is written to disk.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image, ImageDraw

import hashing
from hashing.algorithms import SHARED_PERCEPTUAL

_SIZES = [(256, 256), (640, 480), (480, 640)]
_LEVELS = (0, 128, 255)
_COLOURS = sorted(
    {(r, g, b) for r in _LEVELS for g in _LEVELS for b in _LEVELS}
    | {(v, v, v) for v in range(0, 256, 32)}
)


def _solid(size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, colour)


def _gradient(size: tuple[int, int], angle: int, a: tuple, b: tuple) -> Image.Image:
    mask = Image.linear_gradient("L").rotate(angle).resize(size)
    return Image.composite(Image.new("RGB", size, b), Image.new("RGB", size, a), mask)


def _pictures() -> Iterator[tuple[str, Image.Image]]:
    for size in _SIZES:
        tag = f"{size[0]}x{size[1]}"
        for colour in _COLOURS:
            yield f"solid colour #{bytes(colour).hex()} {tag}", _solid(size, colour)
        for angle in (0, 90, 180, 270, 45):
            for a, b in [((0, 0, 0), (255, 255, 255)), ((0, 0, 128), (0, 128, 255))]:
                yield f"gradient {angle}deg {tag}", _gradient(size, angle, a, b)
        radial = Image.radial_gradient("L").resize(size).convert("RGB")
        yield f"radial gradient {tag}", radial
        page = _solid(size, (255, 255, 255))
        yield f"blank page {tag}", page
        ruled = page.copy()
        draw = ImageDraw.Draw(ruled)
        for y in range(size[1] // 8, size[1], max(8, size[1] // 24)):
            draw.line((size[0] // 12, y, size[0] - size[0] // 12, y), fill=(170, 190, 230))
        yield f"ruled page {tag}", ruled
        grid = page.copy()
        draw = ImageDraw.Draw(grid)
        step = max(8, size[0] // 16)
        for x in range(0, size[0], step):
            draw.line((x, 0, x, size[1]), fill=(200, 200, 200))
        for y in range(0, size[1], step):
            draw.line((0, y, size[0], y), fill=(200, 200, 200))
        yield f"grid page {tag}", grid
        checker = page.copy()
        draw = ImageDraw.Draw(checker)
        cell = max(8, size[0] // 32)
        for x in range(0, size[0], cell):
            for y in range(0, size[1], cell):
                if (x // cell + y // cell) % 2:
                    draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(204, 204, 204))
        yield f"transparency checkerboard {tag}", checker
        avatar = _solid(size, (220, 220, 220))
        draw = ImageDraw.Draw(avatar)
        w, h = size
        draw.ellipse((w * 0.35, h * 0.15, w * 0.65, h * 0.45), fill=(160, 160, 160))
        draw.ellipse((w * 0.2, h * 0.5, w * 0.8, h * 1.1), fill=(160, 160, 160))
        yield f"empty avatar {tag}", avatar
        frame = page.copy()
        draw = ImageDraw.Draw(frame)
        draw.rectangle((4, 4, w - 5, h - 5), outline=(150, 150, 150), width=3)
        draw.line((4, 4, w - 5, h - 5), fill=(150, 150, 150), width=3)
        draw.line((4, h - 5, w - 5, 4), fill=(150, 150, 150), width=3)
        yield f"image placeholder {tag}", frame
        bar = page.copy()
        ImageDraw.Draw(bar).rectangle((0, 0, w, h // 10), fill=(30, 30, 200))
        yield f"app header on blank screen {tag}", bar


def benign_seed_hashes() -> list[tuple[str, str, str]]:
    """(algorithm, value, label) of every perceptual hash of every seed picture."""
    found: dict[tuple[str, str], str] = {}
    for label, picture in _pictures():
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        record = hashing.hash_bytes(buffer.getvalue())
        for algorithm in SHARED_PERCEPTUAL:
            found.setdefault((algorithm, record[algorithm]), label)
    return [(algorithm, value, label) for (algorithm, value), label in sorted(found.items())]
