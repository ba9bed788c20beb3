"""The one decoding policy: bytes in, the 8-bit RGB image a person would see, out.

Every hash in this package is computed from the image this module returns, so the server,
the CLI and (by following the same written rules, see ``hashing/README.md``) the browser
twin all hash the same pixels:

1. Only an allow-list of raster formats is opened (Pillow would otherwise also try formats
   such as EPS that shell out to Ghostscript).
2. The declared dimensions are checked against a pixel limit *before* any pixel is decoded,
   so a decompression bomb costs a header read, not gigabytes of memory.
3. Only the first frame of an animation (GIF, WebP, APNG, multi-page TIFF/HEIF) is used.
4. Samples are reduced to 8 bits: 16-bit greyscale keeps its high byte; CMYK, YCbCr, LAB,
   palette and 1-bit images go through Pillow's standard conversion to RGB.
5. Transparency is flattened onto white with an exact integer formula
   ``out = (c * a + 255 * (255 - a) + 127) // 255`` (so fully opaque pixels are unchanged).
6. The EXIF orientation is applied (browsers do this by default; Pillow does not).

No colour management is done: embedded ICC profiles are ignored, as the browser twin does
with ``colorSpaceConversion: "none"``.

Privacy: the image is decoded in memory only; nothing here writes to disk or logs.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
import pillow_heif
from PIL import Image, UnidentifiedImageError

from hashing.errors import ImageTooLarge, UnreadableImage, UnsupportedFormat

# HEIC/HEIF (iPhone photos) through the maintained pillow-heif plugin. Registration is
# idempotent and process-wide.
pillow_heif.register_heif_opener()

# Allocate every decoded image as one contiguous block (Pillow's default splits images over
# 16 MB blocks). Pillow then exports the pixels through the Arrow interface without a copy,
# which hashing._fast reads in place. Process-wide, and only changes how memory is laid out.
Image.core.set_use_block_allocator(1)  # type: ignore[attr-defined]  # untyped C module

# 64 megapixels: above every common phone camera's default output (48-50 MP sensors write
# 8000x6000 = 48 MP) while bounding memory: the decoded RGB buffer is at most ~192 MB.
DEFAULT_MAX_PIXELS = 64_000_000

# Formats we agree to parse. The JPEG opener also returns the multi-picture (MPO) JPEGs
# many phones write.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "HEIF", "AVIF", "BMP", "TIFF")

ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

# Pillow's own errors for "decoder gave up on these bytes".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def _as_file(source: ImageSource) -> BinaryIO | str | os.PathLike[str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    return source


def open_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``source`` into an 8-bit RGB image following the policy in the module docstring.

    ``source`` may be the file's bytes, a path, or a binary file object. Raises
    ``UnsupportedFormat``, ``ImageTooLarge`` or ``UnreadableImage``.
    """
    try:
        with warnings.catch_warnings():
            # We enforce our own (lower) pixel limit below; Pillow's warning for images
            # between its limit and twice its limit would otherwise escape to the caller.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(_as_file(source), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(_too_large_message(None, max_pixels)) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedFormat() from exc
    except FileNotFoundError:
        raise
    except _DECODE_ERRORS as exc:
        raise UnreadableImage() from exc

    try:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise UnreadableImage("This image has no pixels.")
        if width * height > max_pixels:
            raise ImageTooLarge(_too_large_message((width, height), max_pixels))
        try:
            # Load before reading EXIF: for PNG, getexif() may itself load the pixels, and a
            # decode error swallowed there would leave a half-decoded image behind.
            image.seek(0)
            image.load()
            orientation = _exif_orientation(image)
            rgb = to_rgb(image)
            if rgb is image:
                # Detach the decoded pixels from the file object closed below, without
                # copying 36 MB for a 12 MP photo (Image._new shares the core image).
                rgb = image._new(image.im)
        except (ImageTooLarge, UnreadableImage):
            raise
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(_too_large_message((width, height), max_pixels)) from exc
        except (*_DECODE_ERRORS, MemoryError) as exc:
            raise UnreadableImage() from exc
        return _apply_orientation(rgb, orientation)
    finally:
        image.close()


def _too_large_message(size: tuple[int, int] | None, max_pixels: int) -> str:
    limit = f"{max_pixels / 1_000_000:g} megapixels"
    if size is None:
        return f"This image is too large to hash (the limit is {limit})."
    width, height = size
    return (
        f"This image is too large to hash: it is {width}x{height} pixels "
        f"({width * height / 1_000_000:.1f} megapixels); the limit is {limit}."
    )


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:
        # A damaged EXIF block must not make an otherwise readable photo unhashable.
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# Same mapping as PIL.ImageOps.exif_transpose (EXIF 2.32, tag 0x0112).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    if method is None:
        return image
    return image.transpose(method)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert a loaded image of any Pillow mode to 8-bit RGB (steps 4 and 5 of the policy)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit samples: keep the high byte (what libpng's strip_16 and Pillow's own
        # 16-bit RGB PNG decoding do). Pillow's convert() would clip at 255 instead.
        samples = np.asarray(image, dtype=np.uint32 if mode == "I" else np.uint16)
        if mode == "I" and samples.max(initial=0) <= 255:
            grey = samples.astype(np.uint8)
        else:
            grey = (np.clip(samples, 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(image)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        return flatten_on_white(image.convert("RGBA"))
    return image.convert("RGB")


def flatten_on_white(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image onto opaque white with exact integer rounding."""
    pixels = np.asarray(rgba.convert("RGBA"), dtype=np.uint32)
    alpha = pixels[..., 3:4]
    if bool((alpha == 255).all()):
        return rgba.convert("RGB")
    colour = pixels[..., :3]
    flat = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return Image.fromarray(flat.astype(np.uint8), "RGB")


def rgb_pixels(image: Image.Image) -> tuple[int, int, bytes]:
    """Return ``(width, height, bytes)`` of an RGB image, row-major, 3 bytes per pixel."""
    if image.mode != "RGB":
        raise ValueError("rgb_pixels expects an RGB image; decode it with open_image() first")
    width, height = image.size
    return width, height, image.tobytes()
