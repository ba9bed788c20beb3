"""The decoding policy (hashing/decode.py, documented in hashing/README.md)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from hashing.decode import DEFAULT_MAX_PIXELS, open_image, rgb_pixels
from hashing.errors import HashingError, ImageTooLarge, UnreadableImage, UnsupportedFormat
from tests.support.conformance import PDQ_DATA


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _gradient(width: int = 48, height: int = 32) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 5 % 256, y * 7 % 256, (x + y) * 3 % 256], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image)


def _png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_rgb_image_is_returned_unchanged() -> None:
    original = _gradient()
    decoded = open_image(_encode(original, "PNG"))
    assert decoded.mode == "RGB"
    assert np.array_equal(_pixels(decoded), np.asarray(original))


def test_bytes_path_and_file_object_decode_identically(tmp_path: Path) -> None:
    data = _encode(_gradient(), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    from_bytes = _pixels(open_image(data))
    assert np.array_equal(from_bytes, _pixels(open_image(path)))
    assert np.array_equal(from_bytes, _pixels(open_image(str(path))))
    with path.open("rb") as handle:
        assert np.array_equal(from_bytes, _pixels(open_image(handle)))


def test_transparency_is_flattened_onto_white_with_integer_rounding() -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque: unchanged
    rgba[0, 1] = (10, 20, 30, 0)  # fully transparent: white
    rgba[0, 2] = (0, 100, 200, 128)  # half: (c*a + 255*(255-a) + 127) // 255
    rgba[1, :] = (255, 0, 0, 1)
    decoded = _pixels(open_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG")))
    assert decoded[0, 0].tolist() == [10, 20, 30]
    assert decoded[0, 1].tolist() == [255, 255, 255]
    expected_half = [(c * 128 + 255 * 127 + 127) // 255 for c in (0, 100, 200)]
    assert decoded[0, 2].tolist() == expected_half == [127, 177, 227]
    assert decoded[1, 0].tolist() == [255, 254, 254]


def test_grey_with_alpha_is_flattened_onto_white() -> None:
    la = Image.fromarray(np.array([[[40, 0], [40, 255]]], dtype=np.uint8), "LA")
    decoded = _pixels(open_image(_encode(la, "PNG")))
    assert decoded[0].tolist() == [[255, 255, 255], [40, 40, 40]]


def test_palette_transparency_is_flattened_onto_white() -> None:
    palette_image = Image.new("P", (4, 1))
    palette_image.putpalette([0, 0, 0, 200, 30, 30] + [0] * (254 * 3))
    palette_image.putdata([0, 1, 0, 1])
    data = _encode(palette_image, "GIF", transparency=0)
    decoded = _pixels(open_image(data))
    assert decoded[0].tolist() == [[255, 255, 255], [200, 30, 30]] * 2


def test_palette_without_transparency_uses_the_palette_colours() -> None:
    palette_image = _gradient().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    decoded = open_image(_encode(palette_image, "PNG"))
    assert np.array_equal(_pixels(decoded), np.asarray(palette_image.convert("RGB")))


def test_sixteen_bit_greyscale_keeps_the_high_byte() -> None:
    samples = np.array([[0x0000, 0x00FF, 0x1234, 0xFFFF]], dtype=np.uint16)
    sixteen = Image.fromarray(samples)
    data = _encode(sixteen, "PNG")
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode.startswith("I")
    decoded = _pixels(open_image(data))
    assert decoded[0, :, 0].tolist() == [0x00, 0x00, 0x12, 0xFF]
    assert (decoded[..., 0] == decoded[..., 1]).all()


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    cmyk = _gradient().convert("CMYK")
    data = _encode(cmyk, "JPEG", quality=95)
    decoded = open_image(data)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == "CMYK"
        assert np.array_equal(_pixels(decoded), np.asarray(raw.convert("RGB")))


def test_one_bit_image_becomes_black_and_white_rgb() -> None:
    bilevel = Image.fromarray(np.array([[0, 255, 0]], dtype=np.uint8), "L").convert("1")
    decoded = _pixels(open_image(_encode(bilevel, "PNG")))
    assert decoded[0].tolist() == [[0, 0, 0], [255, 255, 255], [0, 0, 0]]


def test_only_the_first_frame_of_an_animated_gif_is_used() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.n_frames == 2
    decoded = _pixels(open_image(data))
    assert (decoded == [255, 0, 0]).all()


def test_only_the_first_frame_of_an_animated_webp_is_used() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((0, 255, 0), (0, 0, 255))]
    data = _encode(
        frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True, duration=100
    )
    decoded = _pixels(open_image(data))
    assert (decoded == [0, 255, 0]).all()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_imageops(orientation: int) -> None:
    original = _gradient(40, 24)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(original, "PNG", exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.getexif().get(0x0112) == orientation
        expected = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))
    decoded = open_image(data)
    assert decoded.size == (24, 40) if orientation >= 5 else (40, 24)
    assert np.array_equal(_pixels(decoded), expected)


def test_exif_rotated_phone_photo_is_shown_upright() -> None:
    decoded = open_image(PDQ_DATA / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg")
    assert decoded.size == (3024, 4032)


def test_heic_is_decoded_with_its_orientation() -> None:
    original = Image.new("RGB", (64, 32), (200, 10, 10))
    original.paste((10, 200, 10), (48, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    data = _encode(original, "HEIF", quality=95, exif=exif.tobytes())
    assert data[4:12] in (b"ftypheic", b"ftypmif1", b"ftypheix")
    decoded = _pixels(open_image(data))
    assert decoded.shape == (64, 32, 3)
    # The right-hand green band ends up at the bottom once rotated clockwise.
    assert abs(int(decoded[60, 16, 1]) - 200) <= 4
    assert abs(int(decoded[10, 16, 0]) - 200) <= 4


def test_garbage_bytes_are_an_unsupported_format() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        open_image(b"this is not an image at all")
    assert "JPEG" in caught.value.message


def test_empty_file_is_an_unsupported_format() -> None:
    with pytest.raises(UnsupportedFormat):
        open_image(b"")


def test_formats_outside_the_allow_list_are_refused() -> None:
    # Pillow can read PPM, but it is not a format people upload; refusing it keeps the
    # attack surface to the formats we test.
    with pytest.raises(UnsupportedFormat):
        open_image(_encode(_gradient(), "PPM"))


def test_truncated_jpeg_is_unreadable() -> None:
    data = _encode(_gradient(256, 256), "JPEG", quality=95)
    with pytest.raises(UnreadableImage) as caught:
        open_image(data[: len(data) // 2])
    assert "damaged" in caught.value.message


def test_corrupted_png_is_unreadable() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = bytearray(_encode(Image.fromarray(noise, "RGB"), "PNG"))
    start = data.find(b"IDAT") + 1000
    data[start : start + 64] = bytes(64)  # breaks the zlib stream inside the image data
    with pytest.raises(UnreadableImage):
        open_image(bytes(data))


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (9_000, 8_000),  # 72 MP: above our limit, below Pillow's warning threshold
        (10_000, 10_000),  # 100 MP: Pillow would warn
        (100_000, 100_000),  # 10 gigapixels: Pillow would refuse outright
    ],
)
def test_decompression_bomb_is_refused_before_decoding(width: int, height: int) -> None:
    data = _png_with_declared_size(width, height)
    assert len(data) < 2_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as caught:
        open_image(data)
    # A header read, not a multi-gigabyte decode.
    assert time.perf_counter() - started < 1.0
    message = caught.value.message
    assert "too large" in message
    assert "64 megapixels" in message


def test_pixel_limit_is_configurable() -> None:
    data = _encode(_gradient(100, 100), "PNG")
    assert open_image(data, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageTooLarge) as caught:
        open_image(data, max_pixels=9_999)
    assert "100x100" in caught.value.message


def test_default_limit_is_documented_value() -> None:
    assert DEFAULT_MAX_PIXELS == 64_000_000


def test_all_decode_errors_share_one_base_class() -> None:
    for error in (UnreadableImage, ImageTooLarge, UnsupportedFormat):
        assert issubclass(error, HashingError)
        assert error().message


def test_rgb_pixels_returns_row_major_rgb_bytes() -> None:
    image = _gradient(5, 3)
    width, height, data = rgb_pixels(image)
    assert (width, height) == (5, 3)
    assert data == np.asarray(image).tobytes()
    with pytest.raises(ValueError, match="RGB"):
        rgb_pixels(image.convert("L"))


@pytest.mark.parametrize("path", sorted((PDQ_DATA / "misc-images" / "modes").iterdir()))
def test_every_pillow_mode_in_the_conformance_set_decodes_to_rgb(path: Path) -> None:
    decoded = open_image(path)
    assert decoded.mode == "RGB"
    assert decoded.size == (1600, 1004)
