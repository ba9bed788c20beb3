"""Fast exact path: PDQ, pHash and dHash from one pass over the decoded pixels.

``pdqhash.compute`` converts the whole image to float64 luminance in NumPy, copies it to
float32 and then runs ThreatExchange's C++ tent filter; ``imagehash`` converts the image to
greyscale twice and runs two full-resolution Lanczos resizes in Pillow. On a 12 MP photo
that is ~8x the cost of decoding it. Here the same arithmetic runs in compiled loops (numba),
fused so the pixels are read once, spread over the CPU cores, and it is **bit-identical**:

* PDQ luminance is ``float32(R*0.299 + G*0.587 + B*0.114)`` evaluated in float64 in that
  order, as pdqhash's NumPy expression does; the Jarosz tent filter (two box passes along
  rows then columns, twice) keeps the reference's float32 running sums in the reference's
  order (``pdq/cpp/downscaling/downscaling.cpp`` ``box1DFloat``), and the quality metric,
  64-to-16 DCT and Torben median follow ``pdq/cpp/hashing/pdqhashing.cpp``. Only the values
  the decimation reads are finished in the last two passes; running sums are never
  restarted (restarting would change float32 rounding).
* pHash/dHash reproduce Pillow's integer ``convert("L")`` and its fixed-point Lanczos
  resampling (``src/libImaging/Resample.c``: coefficients from ``precompute_coeffs`` in
  double, 22-bit fixed point, 8-bit intermediate rows), giving the exact 32x32 and 9x8
  greyscale images that imagehash would build; imagehash itself then finishes both hashes.

tests/hashing/test_fast.py checks equality with pdqhash and imagehash on every conformance
image, the benchmark image and random images of awkward sizes. No floating-point
reassociation or FMA contraction is enabled (numba's defaults), which is what keeps the
float32 sums identical to the C++ reference.
"""

from __future__ import annotations

import ctypes
import math
import threading
from functools import lru_cache
from typing import Any

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image

try:  # numba is a declared dependency; the reference path still works without it.
    import numba
    from numba import prange
except ImportError:  # pragma: no cover - exercised only in stripped-down installs
    numba = None  # type: ignore[assignment]

AVAILABLE = numba is not None


def _max_threads() -> int:
    """numba's thread-pool size (NUMBA_NUM_THREADS, set when numba is imported)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # set at import


# Parallel kernels run on numba's thread pool, whose default layer must not be entered by
# two Python threads at once: the parallel variants are used under this lock and a caller
# that finds it taken runs the single-threaded variants instead.
_PARALLEL_LOCK = threading.Lock()


def _jit(**options: Any) -> Any:
    """numba.njit with on-disk caching when a cache directory is writable."""

    def decorate(function: Any) -> Any:
        try:
            return numba.njit(cache=True, nogil=True, **options)(function)
        except RuntimeError:  # no writable cache location (read-only install)
            return numba.njit(cache=False, nogil=True, **options)(function)

    return decorate


PDQ_SIZE = 64
MIN_HASHABLE_DIM = 5  # pdqhashing.cpp MIN_HASHABLE_DIM: smaller images hash to zero
PHASH_SIZE = 32  # imagehash.phash: hash_size 8 * highfreq_factor 4
DHASH_SIZE = (9, 8)  # imagehash.dhash: (hash_size + 1, hash_size) as (width, height)
PRECISION_BITS = 32 - 8 - 2  # Resample.c
LANCZOS_SUPPORT = 3.0
ROW_CHUNK = 16  # rows per parallel task in the row passes
COL_CHUNK = 512  # columns per parallel task in the column pass
PARALLEL_MIN_PIXELS = 2_000_000  # below this one core is faster (measured: 1 MP photo)


def jarosz_window(old_dimension: int, new_dimension: int) -> int:
    """``computeJaroszFilterWindowSize``: half of one output cell, rounded up."""
    return (old_dimension + 2 * new_dimension - 1) // (2 * new_dimension)


def decimation_indices(old_dimension: int, new_dimension: int = PDQ_SIZE) -> npt.NDArray[np.int64]:
    """``decimateFloat``'s source index for each output cell (cell centres, in double)."""
    return np.array(
        [int(((i + 0.5) * old_dimension) / new_dimension) for i in range(new_dimension)],
        dtype=np.int64,
    )


@lru_cache(maxsize=1)
def dct_matrix() -> npt.NDArray[np.float32]:
    """The 16x64 DCT-II rows 1..16 as pdqhash 0.2.8's C++ builds them.

    The scale factor sqrt(2/64) is held in a *float*, multiplied by the double cosine and
    the product stored as float. (Newer ThreatExchange code keeps the product in double
    first; holding the scale in double moves most coefficients by an ulp, checked against
    ``pdqhash.compute_float``.)
    """
    scale = float(np.float32(math.sqrt(2.0 / 64.0)))
    matrix = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            matrix[i, j] = scale * math.cos((math.pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1))
    return matrix


def _lanczos(x: float) -> float:
    def sinc(value: float) -> float:
        if value == 0.0:
            return 1.0
        value = value * math.pi
        return math.sin(value) / value

    if -3.0 <= x < 3.0:
        return sinc(x) * sinc(x / 3)
    return 0.0


@lru_cache(maxsize=64)
def _float_coefficients(
    in_size: int, out_size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    bounds, coefficients = lanczos_coefficients(in_size, out_size)
    return bounds, coefficients.astype(np.float64)


@lru_cache(maxsize=64)
def lanczos_coefficients(
    in_size: int, out_size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pillow's ``precompute_coeffs`` + ``normalize_coeffs_8bpc`` for a LANCZOS resize.

    Returns ``bounds`` (out_size x 2: first input index, tap count) and ``coefficients``
    (out_size x ksize, 22-bit fixed point), exactly as Resample.c computes them. Compiled
    when numba is there (tens of thousands of sines: 50 ms in Python for a 12 MP photo);
    ``math.sin`` compiles to a call of the same C library ``sin`` Pillow uses.
    """
    if not AVAILABLE:
        return _lanczos_coefficients_python(in_size, out_size)
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    bounds = np.zeros((out_size, 2), dtype=np.int64)
    coefficients = np.zeros((out_size, ksize), dtype=np.int64)
    _lanczos_kernel(in_size, scale, filterscale, support, bounds, coefficients)
    return bounds, coefficients


def _lanczos_coefficients_python(
    in_size: int, out_size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Plain-Python twin of the compiled coefficient kernel (reference for the tests)."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    bounds = np.zeros((out_size, 2), dtype=np.int64)
    coefficients = np.zeros((out_size, ksize), dtype=np.int64)
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        weights = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        total = 0.0
        for weight in weights:
            total += weight
        for x, weight in enumerate(weights):
            value = weight / total if total != 0.0 else weight
            fixed = value * (1 << PRECISION_BITS)
            coefficients[xx, x] = int(-0.5 + fixed) if value < 0 else int(0.5 + fixed)
        bounds[xx] = (xmin, xmax)
    return bounds, coefficients


# ---------------------------------------------------------------------------------------
# Compiled kernels. Every float32 operation below mirrors one in the C++ reference, in the
# same order; see the module docstring.

if AVAILABLE:

    @_jit()
    def _lanczos_weight(x):  # type: ignore[no-untyped-def]
        """Resample.c lanczos_filter: sinc(x) * sinc(x / 3) on [-3, 3)."""
        if -3.0 <= x < 3.0:
            a = 1.0
            if x != 0.0:
                t = x * math.pi
                a = math.sin(t) / t
            y = x / 3
            b = 1.0
            if y != 0.0:
                t = y * math.pi
                b = math.sin(t) / t
            return a * b
        return 0.0

    @_jit()
    def _lanczos_kernel(in_size, scale, filterscale, support, bounds, coefficients):  # type: ignore[no-untyped-def]
        """precompute_coeffs + normalize_coeffs_8bpc, operation for operation."""
        weights = np.empty(coefficients.shape[1], dtype=np.float64)
        for xx in range(bounds.shape[0]):
            center = 0.0 + (xx + 0.5) * scale
            ss = 1.0 / filterscale
            xmin = int(center - support + 0.5)
            if xmin < 0:
                xmin = 0
            xmax = int(center + support + 0.5)
            if xmax > in_size:
                xmax = in_size
            xmax -= xmin
            total = 0.0
            for x in range(xmax):
                weight = _lanczos_weight((x + xmin - center + 0.5) * ss)
                weights[x] = weight
                total += weight
            for x in range(xmax):
                value = weights[x] / total if total != 0.0 else weights[x]
                fixed = value * (1 << PRECISION_BITS)
                coefficients[xx, x] = int(-0.5 + fixed) if value < 0 else int(0.5 + fixed)
            bounds[xx, 0] = xmin
            bounds[xx, 1] = xmax

    @_jit()
    def _box_1d(src, dst, length, window):  # type: ignore[no-untyped-def]
        """box1DFloat: running float32 sum, written for every position."""
        half = (window + 2) // 2
        total = np.float32(0.0)
        size = 0
        ri = 0
        li = 0
        oi = 0
        for _ in range(half - 1):
            total += src[ri]
            size += 1
            ri += 1
        for _ in range(window - half + 1):
            total += src[ri]
            size += 1
            dst[oi] = total / np.float32(size)
            ri += 1
            oi += 1
        for _ in range(length - window):
            total += src[ri]
            total -= src[li]
            dst[oi] = total / np.float32(size)
            li += 1
            ri += 1
            oi += 1
        for _ in range(half - 1):
            total -= src[li]
            size -= 1
            dst[oi] = total / np.float32(size)
            li += 1
            oi += 1

    @_jit()
    def _box_1d_sampled(src, length, window, wanted, out):  # type: ignore[no-untyped-def]
        """box1DFloat computing every running sum but dividing only where ``wanted`` reads.

        ``wanted`` is ascending and may repeat an index (images narrower than 64 pixels).
        """
        half = (window + 2) // 2
        total = np.float32(0.0)
        size = 0
        ri = 0
        li = 0
        oi = 0
        j = 0
        count = wanted.shape[0]
        for _ in range(half - 1):
            total += src[ri]
            size += 1
            ri += 1
        for _ in range(window - half + 1):
            total += src[ri]
            size += 1
            while j < count and wanted[j] == oi:
                out[j] = total / np.float32(size)
                j += 1
            ri += 1
            oi += 1
        for _ in range(length - window):
            total += src[ri]
            total -= src[li]
            while j < count and wanted[j] == oi:
                out[j] = total / np.float32(size)
                j += 1
            li += 1
            ri += 1
            oi += 1
        for _ in range(half - 1):
            total -= src[li]
            size -= 1
            while j < count and wanted[j] == oi:
                out[j] = total / np.float32(size)
                j += 1
            li += 1
            oi += 1

    # Every product is an integer below 2**31 and every partial sum below 2**43, so float64
    # arithmetic is exact in any order: letting LLVM reassociate (SIMD) and fuse
    # multiply-adds cannot change the integer result. Only this function gets those flags.
    @_jit(fastmath={"reassoc", "contract", "nsz"})
    def _resample_row(grey, bounds, coefficients, out_row):  # type: ignore[no-untyped-def]
        """ImagingResampleHorizontal_8bpc for one row: fixed point, rounded, clipped.

        ``grey`` and ``coefficients`` are float64 holding integers (22-bit fixed point).
        """
        for xx in range(bounds.shape[0]):
            xmin = bounds[xx, 0]
            taps = bounds[xx, 1]
            weights = coefficients[xx]
            window = grey[xmin : xmin + taps]
            acc = 0.0
            for x in range(taps):
                acc += window[x] * weights[x]
            value = (np.int64(acc) + (1 << (PRECISION_BITS - 1))) >> PRECISION_BITS
            out_row[xx] = 0 if value < 0 else (255 if value > 255 else value)

    @_jit()
    def _box_1d_x4(src, dst, r0, length, window):  # type: ignore[no-untyped-def]
        """box1DFloat on four rows at once: four independent float32 running sums.

        Each row's sum sees exactly the operations of ``_box_1d`` in the same order; doing
        four side by side only lets the CPU overlap their latencies.
        """
        a = src[0]
        b = src[1]
        c = src[2]
        d = src[3]
        oa = dst[r0]
        ob = dst[r0 + 1]
        oc = dst[r0 + 2]
        od = dst[r0 + 3]
        half = (window + 2) // 2
        sa = np.float32(0.0)
        sb = np.float32(0.0)
        sc = np.float32(0.0)
        sd = np.float32(0.0)
        size = 0
        ri = 0
        li = 0
        oi = 0
        for _ in range(half - 1):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            size += 1
            ri += 1
        for _ in range(window - half + 1):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            size += 1
            divisor = np.float32(size)
            oa[oi] = sa / divisor
            ob[oi] = sb / divisor
            oc[oi] = sc / divisor
            od[oi] = sd / divisor
            ri += 1
            oi += 1
        divisor = np.float32(size)
        for _ in range(length - window):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            sa -= a[li]
            sb -= b[li]
            sc -= c[li]
            sd -= d[li]
            oa[oi] = sa / divisor
            ob[oi] = sb / divisor
            oc[oi] = sc / divisor
            od[oi] = sd / divisor
            li += 1
            ri += 1
            oi += 1
        for _ in range(half - 1):
            sa -= a[li]
            sb -= b[li]
            sc -= c[li]
            sd -= d[li]
            size -= 1
            divisor = np.float32(size)
            oa[oi] = sa / divisor
            ob[oi] = sb / divisor
            oc[oi] = sc / divisor
            od[oi] = sd / divisor
            li += 1
            oi += 1

    @_jit()
    def _rows_first_chunk(  # type: ignore[no-untyped-def]
        packed,
        window,
        blurred,
        grey_out,
        p_bounds,
        p_coeffs,
        p_rows,
        d_bounds,
        d_coeffs,
        d_rows,
        chunk,
    ):
        """Luminance + first box pass along rows; greyscale + horizontal Lanczos rows.

        ``p_rows``/``d_rows`` with zero columns mean that hash resamples vertically first
        (see ``_horizontal_first``) and is finished from ``grey_out`` later.
        """
        height = packed.shape[0]
        width = packed.shape[1]
        luma = np.empty((4, width), dtype=np.float32)
        grey = np.empty(width, dtype=np.float64)
        start = chunk * ROW_CHUNK
        stop = min(height, start + ROW_CHUNK)
        for r in range(start, stop):
            lane = (r - start) % 4
            luma_row = luma[lane]
            grey_row = grey_out[r]
            packed_row = packed[r]
            for c in range(width):
                # One 32-bit load per pixel (R, G, B, X bytes, little-endian) vectorises;
                # three strided byte loads did not.
                pixel = packed_row[c]
                red = pixel & 0xFF
                green = (pixel >> 8) & 0xFF
                blue = (pixel >> 16) & 0xFF
                # pdqhash: image[...,0]*0.299 + image[...,1]*0.587 + image[...,2]*0.114
                # in float64, then astype(float32).
                luma_row[c] = np.float32(
                    np.float64(red) * 0.299 + np.float64(green) * 0.587 + np.float64(blue) * 0.114
                )
                # Pillow's RGB -> L (Convert.c L24).
                value = (
                    np.int32(red) * 19595 + np.int32(green) * 38470 + np.int32(blue) * 7471 + 0x8000
                ) >> 16
                grey[c] = value
                grey_row[c] = value
            if lane == 3:
                _box_1d_x4(luma, blurred, r - 3, width, window)
            if p_rows.shape[1]:
                _resample_row(grey, p_bounds, p_coeffs, p_rows[r])
            if d_rows.shape[1]:
                _resample_row(grey, d_bounds, d_coeffs, d_rows[r])
        # Rows left over when the chunk is not a multiple of four.
        done = start + (stop - start) // 4 * 4
        for r in range(done, stop):
            _box_1d(luma[r - done], blurred[r], width, window)

    @_jit(parallel=True)
    def _rows_first_parallel(packed, window, blurred, grey, pb, pc, pr, db, dc, dr):  # type: ignore[no-untyped-def]
        for chunk in prange((packed.shape[0] + ROW_CHUNK - 1) // ROW_CHUNK):
            _rows_first_chunk(packed, window, blurred, grey, pb, pc, pr, db, dc, dr, chunk)

    @_jit()
    def _rows_first_serial(packed, window, blurred, grey, pb, pc, pr, db, dc, dr):  # type: ignore[no-untyped-def]
        for chunk in range((packed.shape[0] + ROW_CHUNK - 1) // ROW_CHUNK):
            _rows_first_chunk(packed, window, blurred, grey, pb, pc, pr, db, dc, dr, chunk)

    @_jit()
    def _resample_columns_chunk(grey, bounds, coefficients, out, chunk):  # type: ignore[no-untyped-def]
        """ImagingResampleVertical_8bpc on full-resolution rows, for a chunk of columns."""
        width = grey.shape[1]
        c0 = chunk * COL_CHUNK
        c1 = min(width, c0 + COL_CHUNK)
        acc = np.empty(c1 - c0, dtype=np.int64)
        for yy in range(bounds.shape[0]):
            ymin = bounds[yy, 0]
            for c in range(c1 - c0):
                acc[c] = 1 << (PRECISION_BITS - 1)
            for y in range(bounds[yy, 1]):
                weight = coefficients[yy, y]
                row = grey[ymin + y]
                for c in range(c1 - c0):
                    acc[c] += np.int64(row[c0 + c]) * weight
            for c in range(c1 - c0):
                value = acc[c] >> PRECISION_BITS
                out[yy, c0 + c] = 0 if value < 0 else (255 if value > 255 else value)

    @_jit(parallel=True)
    def _resample_columns_parallel(grey, bounds, coefficients, out):  # type: ignore[no-untyped-def]
        for chunk in prange((grey.shape[1] + COL_CHUNK - 1) // COL_CHUNK):
            _resample_columns_chunk(grey, bounds, coefficients, out, chunk)

    @_jit()
    def _resample_columns_serial(grey, bounds, coefficients, out):  # type: ignore[no-untyped-def]
        for chunk in range((grey.shape[1] + COL_CHUNK - 1) // COL_CHUNK):
            _resample_columns_chunk(grey, bounds, coefficients, out, chunk)

    @_jit()
    def _resample_rows(rows, bounds, coefficients, out):  # type: ignore[no-untyped-def]
        for r in range(rows.shape[0]):
            grey = np.empty(rows.shape[1], dtype=np.float64)
            for c in range(rows.shape[1]):
                grey[c] = rows[r, c]
            _resample_row(grey, bounds, coefficients, out[r])

    @_jit()
    def _columns_chunk(src, dst, window, chunk):  # type: ignore[no-untyped-def]
        """box1DFloat down every column of a chunk, vectorised across the chunk."""
        height = src.shape[0]
        width = src.shape[1]
        half = (window + 2) // 2
        c0 = chunk * COL_CHUNK
        c1 = min(width, c0 + COL_CHUNK)
        span = c1 - c0
        total = np.zeros(span, dtype=np.float32)
        size = 0
        ri = 0
        li = 0
        oi = 0
        for _ in range(half - 1):
            for c in range(span):
                total[c] += src[ri, c0 + c]
            size += 1
            ri += 1
        for _ in range(window - half + 1):
            size += 1
            divisor = np.float32(size)
            for c in range(span):
                total[c] += src[ri, c0 + c]
                dst[oi, c0 + c] = total[c] / divisor
            ri += 1
            oi += 1
        divisor = np.float32(size)
        for _ in range(height - window):
            # Row slices give LLVM plain contiguous loops it vectorises (each lane is an
            # independent column, so SIMD does not change any column's order of operations).
            adding = src[ri, c0:c1]
            leaving = src[li, c0:c1]
            out = dst[oi, c0:c1]
            for c in range(span):
                value = total[c] + adding[c]
                value -= leaving[c]
                total[c] = value
                out[c] = value / divisor
            li += 1
            ri += 1
            oi += 1
        for _ in range(half - 1):
            size -= 1
            divisor = np.float32(size)
            for c in range(span):
                total[c] -= src[li, c0 + c]
                dst[oi, c0 + c] = total[c] / divisor
            li += 1
            oi += 1

    @_jit(parallel=True)
    def _columns_parallel(src, dst, window):  # type: ignore[no-untyped-def]
        for chunk in prange((src.shape[1] + COL_CHUNK - 1) // COL_CHUNK):
            _columns_chunk(src, dst, window, chunk)

    @_jit()
    def _columns_serial(src, dst, window):  # type: ignore[no-untyped-def]
        for chunk in range((src.shape[1] + COL_CHUNK - 1) // COL_CHUNK):
            _columns_chunk(src, dst, window, chunk)

    @_jit()
    def _rows_second_chunk(src, window, wanted_cols, out, chunk):  # type: ignore[no-untyped-def]
        """Second box pass along rows, finished only at the 64 decimated columns."""
        start = chunk * ROW_CHUNK
        stop = min(src.shape[0], start + ROW_CHUNK)
        done = start + (stop - start) // 4 * 4
        for r in range(start, done, 4):
            _box_1d_sampled_x4(src, r, src.shape[1], window, wanted_cols, out)
        for r in range(done, stop):
            _box_1d_sampled(src[r], src.shape[1], window, wanted_cols, out[r])

    @_jit()
    def _box_1d_sampled_x4(src, r0, length, window, wanted, out):  # type: ignore[no-untyped-def]
        """``_box_1d_sampled`` on four rows side by side (independent float32 sums)."""
        a = src[r0]
        b = src[r0 + 1]
        c = src[r0 + 2]
        d = src[r0 + 3]
        half = (window + 2) // 2
        sa = np.float32(0.0)
        sb = np.float32(0.0)
        sc = np.float32(0.0)
        sd = np.float32(0.0)
        size = 0
        ri = 0
        li = 0
        oi = 0
        j = 0
        count = wanted.shape[0]
        for _ in range(half - 1):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            size += 1
            ri += 1
        for _ in range(window - half + 1):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            size += 1
            while j < count and wanted[j] == oi:
                divisor = np.float32(size)
                out[r0, j] = sa / divisor
                out[r0 + 1, j] = sb / divisor
                out[r0 + 2, j] = sc / divisor
                out[r0 + 3, j] = sd / divisor
                j += 1
            ri += 1
            oi += 1
        for _ in range(length - window):
            sa += a[ri]
            sb += b[ri]
            sc += c[ri]
            sd += d[ri]
            sa -= a[li]
            sb -= b[li]
            sc -= c[li]
            sd -= d[li]
            while j < count and wanted[j] == oi:
                divisor = np.float32(size)
                out[r0, j] = sa / divisor
                out[r0 + 1, j] = sb / divisor
                out[r0 + 2, j] = sc / divisor
                out[r0 + 3, j] = sd / divisor
                j += 1
            li += 1
            ri += 1
            oi += 1
        for _ in range(half - 1):
            sa -= a[li]
            sb -= b[li]
            sc -= c[li]
            sd -= d[li]
            size -= 1
            while j < count and wanted[j] == oi:
                divisor = np.float32(size)
                out[r0, j] = sa / divisor
                out[r0 + 1, j] = sb / divisor
                out[r0 + 2, j] = sc / divisor
                out[r0 + 3, j] = sd / divisor
                j += 1
            li += 1
            oi += 1

    @_jit(parallel=True)
    def _rows_second_parallel(src, window, wanted_cols, out):  # type: ignore[no-untyped-def]
        for chunk in prange((src.shape[0] + ROW_CHUNK - 1) // ROW_CHUNK):
            _rows_second_chunk(src, window, wanted_cols, out, chunk)

    @_jit()
    def _rows_second_serial(src, window, wanted_cols, out):  # type: ignore[no-untyped-def]
        for chunk in range((src.shape[0] + ROW_CHUNK - 1) // ROW_CHUNK):
            _rows_second_chunk(src, window, wanted_cols, out, chunk)

    @_jit()
    def _columns_second_pass(src, window, wanted_rows, out):  # type: ignore[no-untyped-def]
        """Second box pass down the 64 kept columns, finished at the 64 decimated rows."""
        columns = src.shape[1]
        column = np.empty(src.shape[0], dtype=np.float32)
        sampled = np.empty(wanted_rows.shape[0], dtype=np.float32)
        for c in range(columns):
            for r in range(src.shape[0]):
                column[r] = src[r, c]
            _box_1d_sampled(column, src.shape[0], window, wanted_rows, sampled)
            for i in range(wanted_rows.shape[0]):
                out[i, c] = sampled[i]

    @_jit()
    def _resample_columns(rows, bounds, coefficients, out):  # type: ignore[no-untyped-def]
        """ImagingResampleVertical_8bpc on the horizontally resampled rows."""
        for yy in range(bounds.shape[0]):
            ymin = bounds[yy, 0]
            taps = bounds[yy, 1]
            for xx in range(rows.shape[1]):
                acc = 1 << (PRECISION_BITS - 1)
                for y in range(taps):
                    acc += np.int64(rows[ymin + y, xx]) * coefficients[yy, y]
                value = acc >> PRECISION_BITS
                out[yy, xx] = 0 if value < 0 else (255 if value > 255 else value)

    @_jit()
    def _finish_pdq(buffer64, dct):  # type: ignore[no-untyped-def]
        """Quality metric, 64x64 -> 16x16 DCT and Torben-median bits (pdqhashing.cpp)."""
        gradient_sum = np.int64(0)
        hundred = np.float32(100.0)
        scale = np.float32(255.0)
        for i in range(63):
            for j in range(64):
                d = np.int64(((buffer64[i, j] - buffer64[i + 1, j]) * hundred) / scale)
                gradient_sum += abs(d)
        for i in range(64):
            for j in range(63):
                d = np.int64(((buffer64[i, j] - buffer64[i, j + 1]) * hundred) / scale)
                gradient_sum += abs(d)
        quality = min(gradient_sum // 90, np.int64(100))
        temp = np.empty((16, 64), dtype=np.float32)
        for i in range(16):
            for j in range(64):
                total = np.float32(0.0)
                for k in range(64):
                    total += dct[i, k] * buffer64[k, j]
                temp[i, j] = total
        coefficients = np.empty((16, 16), dtype=np.float32)
        for i in range(16):
            for j in range(16):
                total = np.float32(0.0)
                for k in range(64):
                    total += temp[i, k] * dct[j, k]
                coefficients[i, j] = total
        return coefficients, quality


def _coefficient_bits_to_hex(coefficients: npt.NDArray[np.float32]) -> str:
    flat = coefficients.reshape(256)
    # Torben's median of 256 values is the lower middle one (the 128th smallest).
    median = np.partition(flat, 127)[127]
    bits = flat > median  # strictly greater, bit k = 16*i + j
    return np.packbits(bits[::-1]).tobytes().hex()


def _packed(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    """The pixels as (height, width) uint32 words R | G << 8 | B << 16 (X in the top byte)."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if pixels.shape[2] == 4 and pixels.flags.c_contiguous:
        return pixels.view(np.uint32).reshape(height, width)
    rgbx = np.zeros((height, width, 4), dtype=np.uint8)
    rgbx[:, :, :3] = pixels[:, :, :3]
    return rgbx.view(np.uint32).reshape(height, width)


def pixel_view(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The RGB pixels as an (height, width, 3 or 4) uint8 array, zero-copy when possible.

    Pillow stores RGB as 4 bytes per pixel; when the image is one memory block (see
    ``hashing.decode``), its Arrow export is read in place (no 36 MB copy for 12 MP).
    """
    if image.mode != "RGB":
        raise ValueError("expected an RGB image")
    width, height = image.size
    if width and height and image.im.isblock():
        view = _arrow_view(image, width, height)
        if view is not None:
            return view
    return np.asarray(image)


class _ArrowArray(ctypes.Structure):
    pass


# The Arrow C data interface struct (a stable ABI, arrow.apache.org/docs/format/CDataInterface).
_ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))),
    ("dictionary", ctypes.POINTER(_ArrowArray)),
    ("release", ctypes.c_void_p),
    ("private_data", ctypes.c_void_p),
]

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _Borrowed:
    """Holds the capsules (and so Pillow's memory) alive for as long as the array lives."""

    def __init__(self, address: int, shape: tuple[int, ...], owners: tuple[Any, ...]) -> None:
        self.__array_interface__ = {
            "data": (address, True),
            "shape": shape,
            "typestr": "|u1",
            "version": 3,
        }
        self._owners = owners


def _arrow_view(image: Image.Image, width: int, height: int) -> npt.NDArray[np.uint8] | None:
    try:
        schema, array = image.__arrow_c_array__()
    except (ValueError, AttributeError):
        return None
    root = _ArrowArray.from_address(_capsule_pointer(array, b"arrow_array"))
    if root.n_children != 1 or root.length != width * height or root.offset != 0:
        return None
    child = root.children[0].contents
    if child.n_buffers != 2 or child.length != 4 * width * height or child.offset != 0:
        return None
    address = child.buffers[1]
    if not address:
        return None
    return np.asarray(_Borrowed(address, (height, width, 4), (schema, array, image)))


def hash_pixels(
    pixels: npt.NDArray[np.uint8], *, threads: int | None = None
) -> tuple[str, int, str, str]:
    """(pdq_hex, pdq_quality, phash_hex, dhash_hex) of an RGB(X) uint8 (h, w, >=3) array.

    ``threads``: how many cores to use (default: all numba threads; 1 = this thread only).
    """
    if not AVAILABLE:
        raise RuntimeError("numba is not installed")
    wanted = _max_threads() if threads is None else max(1, threads)
    if pixels.shape[0] * pixels.shape[1] < PARALLEL_MIN_PIXELS:
        wanted = 1  # starting the thread pool costs more than it saves on small images
    parallel = wanted > 1 and _PARALLEL_LOCK.acquire(blocking=False)
    previous_chunk = 0
    try:
        if parallel:
            numba.set_num_threads(min(wanted, _max_threads()))
            # Hand out work one chunk at a time: on a busy server a thread that loses its
            # core is not left holding half the image while the other thread idles.
            previous_chunk = numba.set_parallel_chunksize(1)
        return _hash_pixels(pixels, parallel=parallel)
    finally:
        if parallel:
            numba.set_parallel_chunksize(previous_chunk)
            _PARALLEL_LOCK.release()


def _horizontal_first(width: int, height: int, out_width: int, out_height: int) -> bool:
    """Which pass Pillow's resize runs first.

    Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height is
    scaled down significantly more than the width: ``H > h and H - h > 2 * (W - w)``.
    The 8-bit rounding between the passes makes the order visible in the result, so it
    is reproduced; tests/hashing/test_fast.py checks it against Pillow on random sizes.
    """
    return not (height > out_height and height - out_height > 2 * (width - out_width))


def _thumbnail(
    grey: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.uint8],
    out_size: tuple[int, int],
    *,
    parallel: bool,
) -> npt.NDArray[np.uint8]:
    """Finish one Lanczos greyscale thumbnail (``out_size`` = (width, height)).

    ``rows`` holds the horizontally resampled rows when Pillow would resample rows first,
    else it has no columns. A pass whose size does not change is skipped, as in Pillow.
    """
    height, width = grey.shape
    out_width, out_height = out_size
    bounds_x, coeffs_x = _float_coefficients(width, out_width)
    bounds_y, coeffs_y = lanczos_coefficients(height, out_height)
    if rows.shape[1]:
        if out_height == height:
            return np.ascontiguousarray(rows)
        small = np.empty((out_height, out_width), dtype=np.uint8)
        _resample_columns(rows, bounds_y, coeffs_y, small)
        return small
    middle = np.empty((out_height, width), dtype=np.uint8)
    columns = _resample_columns_parallel if parallel else _resample_columns_serial
    columns(grey, bounds_y, coeffs_y, middle)
    if out_width == width:
        return middle
    small = np.empty((out_height, out_width), dtype=np.uint8)
    _resample_rows(middle, bounds_x, coeffs_x, small)
    return small


# Work buffers are kept per thread between calls: allocating ~110 MB afresh for every
# 12 MP photo costs more in page faults than several kernel passes. Images above this many
# pixels get fresh buffers that are freed after the call.
_REUSE_MAX_PIXELS = 16_000_000
_buffers = threading.local()


def _work_buffer(name: str, shape: tuple[int, int], dtype: type[np.generic]) -> npt.NDArray[Any]:
    size = shape[0] * shape[1]
    if size > _REUSE_MAX_PIXELS:
        return np.empty(shape, dtype=dtype)
    cache: dict[str, npt.NDArray[Any]] = getattr(_buffers, "cache", None) or {}
    _buffers.cache = cache
    buffer = cache.get(name)
    if buffer is None or buffer.size < size or buffer.dtype != dtype:
        buffer = np.empty(max(size, 1), dtype=dtype)
        cache[name] = buffer
    return buffer[:size].reshape(shape)


def _hash_pixels(pixels: npt.NDArray[np.uint8], *, parallel: bool) -> tuple[str, int, str, str]:
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    rows_first = _rows_first_parallel if parallel else _rows_first_serial

    # Horizontal Lanczos rows are made in the fused pass when Pillow resamples rows first.
    # (When the width is unchanged Pillow only resamples vertically: same as the other path.)
    p_first = width != PHASH_SIZE and _horizontal_first(width, height, PHASH_SIZE, PHASH_SIZE)
    d_first = width != DHASH_SIZE[0] and _horizontal_first(width, height, *DHASH_SIZE)
    p_bounds_x, p_coeffs_x = _float_coefficients(width, PHASH_SIZE)
    d_bounds_x, d_coeffs_x = _float_coefficients(width, DHASH_SIZE[0])
    p_rows = np.empty((height, PHASH_SIZE if p_first else 0), dtype=np.uint8)
    d_rows = np.empty((height, DHASH_SIZE[0] if d_first else 0), dtype=np.uint8)

    window_along_rows = jarosz_window(width, PDQ_SIZE)
    first = _work_buffer("first", (height, width), np.float32)
    grey = _work_buffer("grey", (height, width), np.uint8)
    rows_first(
        _packed(pixels),
        window_along_rows,
        first,
        grey,
        p_bounds_x,
        p_coeffs_x,
        p_rows,
        d_bounds_x,
        d_coeffs_x,
        d_rows,
    )
    p_small = _thumbnail(grey, p_rows, (PHASH_SIZE, PHASH_SIZE), parallel=parallel)
    d_small = _thumbnail(grey, d_rows, DHASH_SIZE, parallel=parallel)
    del grey
    # imagehash finishes both hashes on the exact greyscale thumbnails it would have made
    # (resizing an image to its own size is a copy in Pillow).
    phash_hex = str(imagehash.phash(Image.fromarray(p_small, "L")))
    dhash_hex = str(imagehash.dhash(Image.fromarray(d_small, "L")))

    if height < MIN_HASHABLE_DIM or width < MIN_HASHABLE_DIM:
        return "0" * 64, 0, phash_hex, dhash_hex
    coefficients, quality = _pdq_from_first_pass(pixels, first, parallel=parallel)
    return _coefficient_bits_to_hex(coefficients), quality, phash_hex, dhash_hex


def _pdq_from_first_pass(
    pixels: npt.NDArray[np.uint8], first: npt.NDArray[np.float32], *, parallel: bool
) -> tuple[npt.NDArray[np.float32], int]:
    """Remaining tent-filter passes, decimation, quality and DCT: (16x16 floats, quality)."""
    height, width = first.shape
    columns = _columns_parallel if parallel else _columns_serial
    rows_second = _rows_second_parallel if parallel else _rows_second_serial
    if height == PDQ_SIZE and width == PDQ_SIZE:
        # pdqFloat256FromFloatLuma takes a 64x64 image as it is, without the tent filter.
        rgb = pixels[:, :, :3].astype(np.float64)
        buffer64 = (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(
            np.float32
        )
    else:
        second = _work_buffer("second", (height, width), np.float32)
        columns(first, second, jarosz_window(height, PDQ_SIZE))
        kept = np.empty((height, PDQ_SIZE), dtype=np.float32)
        rows_second(second, jarosz_window(width, PDQ_SIZE), decimation_indices(width), kept)
        del second
        buffer64 = np.empty((PDQ_SIZE, PDQ_SIZE), dtype=np.float32)
        _columns_second_pass(
            kept, jarosz_window(height, PDQ_SIZE), decimation_indices(height), buffer64
        )
    coefficients, quality = _finish_pdq(buffer64, dct_matrix())
    return coefficients, int(quality)


def pdq_float(pixels: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], int]:
    """The 16x16 DCT coefficients (row i, column j) and quality, as pdqhash.compute_float.

    For checking exactness: equal floats mean equal hashes whatever the median ties.
    """
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    first = np.empty((height, width), dtype=np.float32)
    grey = np.empty((height, width), dtype=np.uint8)
    no_rows = np.empty((height, 0), dtype=np.uint8)
    bounds, coefficients = _float_coefficients(width, PHASH_SIZE)
    _rows_first_serial(
        _packed(pixels),
        jarosz_window(width, PDQ_SIZE),
        first,
        grey,
        bounds,
        coefficients,
        no_rows,
        bounds,
        coefficients,
        no_rows,
    )
    return _pdq_from_first_pass(pixels, first, parallel=False)


def _thumbnail_for_tests(
    pixels: npt.NDArray[np.uint8], out_size: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """One greyscale Lanczos thumbnail through the fast path (for tests)."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    out_width, out_height = out_size
    horizontal = width != out_width and _horizontal_first(width, height, out_width, out_height)
    bounds, coefficients = _float_coefficients(width, out_width)
    rows = np.empty((height, out_width if horizontal else 0), dtype=np.uint8)
    no_rows = np.empty((height, 0), dtype=np.uint8)
    grey = np.empty((height, width), dtype=np.uint8)
    _rows_first_serial(
        _packed(pixels),
        jarosz_window(width, PDQ_SIZE),
        np.empty((height, width), dtype=np.float32),
        grey,
        bounds,
        coefficients,
        rows,
        bounds,
        coefficients,
        no_rows,
    )
    return _thumbnail(grey, rows, out_size, parallel=False)
