// pHash and dHash (64-bit) in plain JavaScript, bit-identical to Python imagehash 4.3.2.
//
// imagehash computes `image.convert("L").resize(size, Image.Resampling.LANCZOS)` and then
// works on the 8-bit result, so exactness depends on reproducing Pillow's integer arithmetic:
// the fixed-point greyscale conversion (libImaging/Convert.c) and the two-pass fixed-point
// resampler (libImaging/Resample.c: double coefficients normalised per output pixel, rounded
// to 22-bit fixed point, a horizontal pass into an 8-bit image, then a vertical pass, both
// clipped to 0..255). pHash then takes scipy.fftpack's unnormalised DCT-II along axis 0 and
// axis 1 in float64 and compares the top-left 8x8 with their NumPy median.

// Pillow's PRECISION_BITS for 8-bit resampling: 32 bits - 8 for the value - 2 for overflow.
const PRECISION_BITS = 32 - 8 - 2;
const LANCZOS_SUPPORT = 3.0;

const HEX = "0123456789abcdef";

/**
 * Pillow's RGB -> "L" conversion: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
 * @param {Uint8Array|Uint8ClampedArray} pixels interleaved RGB or RGBA (alpha ignored)
 * @param {number} width
 * @param {number} height
 * @param {number} channels 3 or 4
 * @returns {Uint8Array}
 */
export function greyscaleFromPixels(pixels, width, height, channels) {
  const n = width * height;
  const grey = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    grey[i] = (pixels[p] * 19595 + pixels[p + 1] * 38470 + pixels[p + 2] * 7471 + 0x8000) >>> 16;
  }
  return grey;
}

function sinc(x) {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x) {
  // Truncated sinc, as Pillow's lanczos_filter.
  if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
  return 0.0;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for a full-range box (0..inSize):
 * per output pixel, the first input index, the count, and Int32 fixed-point weights.
 */
export function lanczosCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = LANCZOS_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let ww = 0.0;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0.0) k[x] /= ww;
      const v = k[x];
      kk[xx * ksize + x] =
        v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

// Pillow's clip8: the fixed-point sum shifted down, clamped to 0..255.
function clip8(ss) {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's ImagingResampleHorizontal_8bpc on an "L" image: rows [row0, row0 + nrows) of
 * `src` (width `width`) into a new nrows x outW image.
 */
function resampleHorizontalL(src, width, row0, nrows, outW, coeffs) {
  const { ksize, bounds, kk } = coeffs;
  const out = new Uint8Array(outW * nrows);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < nrows; yy++) {
    const rowBase = (yy + row0) * width;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const kBase = xx * ksize;
      const pBase = rowBase + xmin;
      let ss = half;
      for (let x = 0; x < xmax; x++) ss += src[pBase + x] * kk[kBase + x];
      out[yy * outW + xx] = clip8(ss);
    }
  }
  return out;
}

/**
 * Pillow's ImagingResampleVertical_8bpc: `src` (srcW wide) down to outH rows. Row indices
 * in `coeffs` are shifted by `rowOffset`, the first source row kept by the horizontal pass.
 */
export function resampleVerticalL(src, srcW, outH, coeffs, rowOffset) {
  const { ksize, bounds, kk } = coeffs;
  const out = new Uint8Array(srcW * outH);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - rowOffset;
    const ymax = bounds[yy * 2 + 1];
    const kBase = yy * ksize;
    for (let xx = 0; xx < srcW; xx++) {
      let ss = half;
      for (let y = 0; y < ymax; y++) ss += src[(y + ymin) * srcW + xx] * kk[kBase + y];
      out[yy * srcW + xx] = clip8(ss);
    }
  }
  return out;
}

/** The source rows [first, last) that Pillow's vertical pass reads. */
export function rowsNeeded(vert, outH) {
  return { first: vert.bounds[0], last: vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1] };
}

/**
 * Pillow's `Image.resize((outW, outH), Image.Resampling.LANCZOS)` on an 8-bit "L" image,
 * including its shortcuts: no pass along an axis whose size does not change.
 * @param {Uint8Array} grey width*height
 * @returns {Uint8Array} outW*outH
 */
export function resizeLanczosL(grey, width, height, outW, outH) {
  if (width === outW && height === outH) return grey.slice();
  const vert = lanczosCoefficients(height, outH);
  let src = grey;
  let srcW = width;
  let rowOffset = 0;
  if (outW !== width) {
    // Only the source rows the vertical pass will read, as Pillow does.
    const { first, last } = rowsNeeded(vert, outH);
    src = resampleHorizontalL(grey, width, first, last - first, outW, lanczosCoefficients(width, outW));
    srcW = outW;
    rowOffset = first;
  }
  if (outH === height) return src;
  return resampleVerticalL(src, srcW, outH, vert, rowOffset);
}

// Unnormalised DCT-II (scipy's type 2, norm=None): y[k] = 2 * sum x[n] cos(pi k (2n+1) / 2N).
const DCT32 = (() => {
  const n = 32;
  const m = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) m[k * n + i] = 2 * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }
  return m;
})();

function bitsToHex(bits) {
  let hex = "";
  for (let i = 0; i < bits.length; i += 4) {
    hex += HEX[(bits[i] << 3) | (bits[i + 1] << 2) | (bits[i + 2] << 1) | bits[i + 3]];
  }
  return hex;
}

// The first 8 outputs of the 32-point DCT-II of in[off], in[off+stride], ... into out[outOff + k].
// A constant input gets exact zeros above DC, as scipy's FFT-based DCT gives: a direct sum
// would leave rounding noise there, and on flat or one-directional images (a solid colour,
// stripes) that noise would decide bits that scipy leaves unset.
function dct32Low8(input, off, stride, out, outOff, outStride) {
  const n = 32;
  const first = input[off];
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = input[off + i * stride] === first;
  if (constant) {
    out[outOff] = 2 * n * first;
    for (let k = 1; k < 8; k++) out[outOff + k * outStride] = 0;
    return;
  }
  for (let k = 0; k < 8; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += input[off + i * stride] * DCT32[k * n + i];
    out[outOff + k * outStride] = s;
  }
}

/**
 * imagehash.phash(image) (hash_size 8, highfreq_factor 4) from an 8-bit greyscale image.
 * @returns {string} 16 lower-case hex digits
 */
export function phashFromGrey(grey, width, height) {
  return phashFromThumbnail(resizeLanczosL(grey, width, height, 32, 32));
}

/** pHash of the 32x32 Lanczos thumbnail. */
export function phashFromThumbnail(px) {
  const n = 32;
  // DCT along axis 0 (down each column); only rows 0..7 of the result are needed.
  const cols = new Float64Array(8 * n);
  for (let j = 0; j < n; j++) dct32Low8(px, j, n, cols, j, n);
  // Then along axis 1 (each of those rows), keeping the low 8x8 frequencies.
  const low = new Float64Array(64);
  for (let r = 0; r < 8; r++) dct32Low8(cols, r * n, 1, low, r * 8, 1);
  // NumPy's median of an even count: the mean of the two middle values.
  const sorted = Float64Array.from(low).sort();
  const median = (sorted[31] + sorted[32]) / 2;
  const bits = new Uint8Array(64);
  for (let i = 0; i < 64; i++) bits[i] = low[i] > median ? 1 : 0;
  return bitsToHex(bits);
}

/**
 * imagehash.dhash(image) (hash_size 8): resize to 9x8, bit set where a pixel is brighter
 * than its left neighbour, rows in order.
 * @returns {string} 16 lower-case hex digits
 */
export function dhashFromGrey(grey, width, height) {
  return dhashFromThumbnail(resizeLanczosL(grey, width, height, 9, 8));
}

/** dHash of the 9x8 Lanczos thumbnail. */
export function dhashFromThumbnail(px) {
  const bits = new Uint8Array(64);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) bits[r * 8 + c] = px[r * 9 + c + 1] > px[r * 9 + c] ? 1 : 0;
  }
  return bitsToHex(bits);
}

/** pHash and dHash of an 8-bit greyscale image. */
export function imagehashesFromGrey(grey, width, height) {
  return { phash: phashFromGrey(grey, width, height), dhash: dhashFromGrey(grey, width, height) };
}

/** pHash and dHash of 8-bit RGB(A) pixels (already oriented and flattened onto white). */
export function imagehashesFromPixels(pixels, width, height, channels) {
  return imagehashesFromGrey(greyscaleFromPixels(pixels, width, height, channels), width, height);
}
