"""The fast exact path (hashing/_fast.py) is bit-identical to pdqhash and imagehash.

PDQ is compared as floats (the 16x16 DCT coefficients of ``pdqhash.compute_float``) as well
as bits and quality, so agreement does not depend on how far values sit from the median.
"""

from __future__ import annotations

import threading

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from hashing import _fast
from hashing.decode import open_image
from hashing.pdq import bits_to_hex
from tests.hashing.synthetic import natural_image
from tests.hashing.synthetic_bench import bench_jpeg
from tests.support.conformance import conformance_image_paths

pytestmark = pytest.mark.skipif(not _fast.AVAILABLE, reason="numba is not installed")


def _reference(image: Image.Image) -> tuple[str, int, str, str]:
    pixels = np.asarray(image)
    bits, quality = pdqhash.compute(pixels)
    return (
        bits_to_hex(bits),
        int(quality),
        str(imagehash.phash(image)),
        str(imagehash.dhash(image)),
    )


def _reference_floats(image: Image.Image) -> tuple[np.ndarray, int]:
    values, quality = pdqhash.compute_float(np.asarray(image))
    # compute_float returns the 16x16 buffer flattened and reversed.
    return np.asarray(values, dtype=np.float32)[::-1].reshape(16, 16), int(quality)


def _assert_identical(image: Image.Image) -> None:
    expected = _reference(image)
    pixels = _fast.pixel_view(image)
    for threads in (1, 2):
        assert _fast.hash_pixels(pixels, threads=threads) == expected
    if min(image.size) >= _fast.MIN_HASHABLE_DIM:
        floats, quality = _fast.pdq_float(pixels)
        expected_floats, expected_quality = _reference_floats(image)
        assert quality == expected_quality
        assert np.array_equal(floats, expected_floats)


@pytest.mark.parametrize("path", conformance_image_paths(), ids=lambda path: path.name)
def test_identical_to_pdqhash_and_imagehash_on_every_conformance_image(path) -> None:
    _assert_identical(open_image(path))


def test_identical_on_the_12_megapixel_benchmark_photo() -> None:
    image = open_image(bench_jpeg())
    assert image.size == (4000, 3000)
    _assert_identical(image)


def test_identical_on_a_portrait_photo() -> None:
    # Portrait photos make Pillow resample vertically first for pHash and dHash.
    image = open_image(bench_jpeg(1200, 1600))
    _assert_identical(image)


SIZES = [
    (1, 1),
    (4, 4),
    (5, 5),
    (5, 200),
    (200, 5),
    (8, 9),
    (9, 8),
    (32, 32),
    (63, 64),
    (64, 64),
    (65, 127),
    (100, 32),
    (128, 128),
    (129, 257),
    (7, 1000),
    (1000, 7),
    (64, 300),
    (300, 64),
    (300, 9),
    (2, 9),
]


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_identical_on_noise_of_awkward_sizes(height: int, width: int) -> None:
    rng = np.random.default_rng(height * 1000 + width)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    _assert_identical(Image.fromarray(noise, "RGB"))


@pytest.mark.parametrize("seed", range(12))
def test_identical_on_random_shapes_of_natural_images(seed: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = (int(value) for value in rng.integers(16, 900, size=2))
    _assert_identical(natural_image(seed, width, height))


def test_resample_pass_order_matches_pillow() -> None:
    # Pillow runs the vertical pass first when the height shrinks much more than the
    # width; the rule in _horizontal_first must agree with Pillow for every shape.
    rng = np.random.default_rng(7)
    for trial in range(300):
        height, width = (int(value) for value in rng.integers(2, 260, size=2))
        out_width, out_height = [(9, 8), (32, 32)][trial % 2]
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        expected = np.asarray(
            Image.fromarray(grey, "L").resize((out_width, out_height), Image.Resampling.LANCZOS)
        )
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        small = _fast._thumbnail_for_tests(rgb, (out_width, out_height))
        assert np.array_equal(small, expected), (height, width, out_width, out_height)


def test_arrow_view_reads_pillow_pixels_in_place() -> None:
    image = open_image(bench_jpeg(640, 480))
    view = _fast.pixel_view(image)
    assert view.shape == (480, 640, 4)
    assert np.array_equal(view[:, :, :3], np.asarray(image))


def test_concurrent_callers_get_correct_results() -> None:
    images = [natural_image(seed, 700, 500) for seed in range(4)]
    expected = [_reference(image) for image in images]
    results: dict[int, tuple[str, int, str, str]] = {}

    def work(index: int) -> None:
        results[index] = _fast.hash_pixels(_fast.pixel_view(images[index]))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[index] for index in range(4)] == expected


def test_compiled_lanczos_coefficients_equal_the_plain_python_ones() -> None:
    rng = np.random.default_rng(11)
    sizes = [(4000, 32), (4000, 9), (3000, 8), (5, 32), (1, 9), (32, 32), (12000, 9)]
    sizes += [
        (int(size), int(out))
        for size, out in zip(rng.integers(1, 9000, 150), rng.choice([8, 9, 32], 150), strict=True)
    ]
    for in_size, out_size in sizes:
        bounds, coefficients = _fast.lanczos_coefficients(in_size, out_size)
        expected_bounds, expected = _fast._lanczos_coefficients_python(in_size, out_size)
        assert np.array_equal(bounds, expected_bounds), (in_size, out_size)
        assert np.array_equal(coefficients, expected), (in_size, out_size)
