// PDQ perceptual hash (256 bits + quality 0-100) in plain JavaScript.
//
// A step-by-step port of Meta's reference (ThreatExchange pdq/cpp/hashing/pdqhashing.cpp
// and pdq/cpp/downscaling/downscaling.cpp), written to be bit-identical to the server, which
// runs that C++ through the `pdqhash` 0.2.8 binding. Every quantity the C++ keeps in a
// `float` is kept in a Float32Array or passed through Math.fround here: a JavaScript number
// is a double, and fround(a op b) of two floats is exactly the float result of `a op b`
// (a double holds more than twice float's precision), so the sequence of roundings is the
// reference's own.
//
// The one deliberate difference from the C++ file: luminance. `pdqhash.compute()` does not
// call the C++ `fillFloatLumaFromRGB` (float arithmetic); it computes
// `R*0.299 + G*0.587 + B*0.114` in NumPy float64 and then casts to float32. That is what
// ThreatExchange's Python tooling and the server hash, so that is what we reproduce.

const DOWNSAMPLE_DIM = 64;
const MIN_HASHABLE_DIM = 5;
const NUM_JAROSZ_XY_PASSES = 2;

// Per-channel luminance terms in float64, exactly the products NumPy forms.
const LUMA_R = new Float64Array(256);
const LUMA_G = new Float64Array(256);
const LUMA_B = new Float64Array(256);
for (let v = 0; v < 256; v++) {
  LUMA_R[v] = v * 0.299;
  LUMA_G[v] = v * 0.587;
  LUMA_B[v] = v * 0.114;
}

// The reference's 16x64 DCT matrix. It skips row 0 (the DC term): output slot i is
// frequency i+1. The scale factor is a C++ `float`, widened to double for the product, and
// each entry is stored as a float.
const DCT_MATRIX = (() => {
  const m = new Float32Array(16 * 64);
  const scale = Math.fround(Math.sqrt(2.0 / 64));
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      m[i * 64 + j] = scale * Math.cos((Math.PI / 2.0 / 64) * (i + 1) * (2 * j + 1));
    }
  }
  return m;
})();

/**
 * Float32 luminance of 8-bit pixels, as `pdqhash.compute()` computes it.
 * @param {Uint8Array|Uint8ClampedArray} pixels interleaved RGB or RGBA, row-major
 * @param {number} width
 * @param {number} height
 * @param {number} channels 3 (RGB) or 4 (RGBA; alpha is ignored: flatten it first)
 * @param {Float32Array} [out] buffer of width*height to reuse
 * @returns {Float32Array}
 */
export function lumaFromPixels(pixels, width, height, channels, out) {
  const n = width * height;
  const luma = out || new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    // Float32Array stores round to float, like NumPy's astype("float32").
    luma[i] = LUMA_R[pixels[p]] + LUMA_G[pixels[p + 1]] + LUMA_B[pixels[p + 2]];
  }
  return luma;
}

/** The reference's `computeJaroszFilterWindowSize` (integer division, rounding up). */
export function jaroszWindowSize(oldDimension, newDimension) {
  return Math.trunc((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

// One box-filter pass along every row: the reference's `box1DFloat` with stride 1, with its
// four phases (grow the window, write with a growing window, slide, shrink).
function boxAlongRows(input, output, numRows, numCols, windowSize) {
  const half = Math.trunc((windowSize + 2) / 2);
  const phase1 = half - 1;
  const phase2 = windowSize - half + 1;
  const phase3 = numCols - windowSize;
  const phase4 = half - 1;
  const fround = Math.fround;
  for (let r = 0; r < numRows; r++) {
    const base = r * numCols;
    let li = base;
    let ri = base;
    let oi = base;
    let sum = 0;
    let size = 0;
    for (let i = 0; i < phase1; i++) {
      sum = fround(sum + input[ri++]);
      size++;
    }
    for (let i = 0; i < phase2; i++) {
      sum = fround(sum + input[ri++]);
      size++;
      output[oi++] = sum / size;
    }
    for (let i = 0; i < phase3; i++) {
      sum = fround(sum + input[ri++]);
      sum = fround(sum - input[li++]);
      output[oi++] = sum / size;
    }
    for (let i = 0; i < phase4; i++) {
      sum = fround(sum - input[li++]);
      size--;
      output[oi++] = sum / size;
    }
  }
}

// The same filter down every column. The reference walks one column at a time with a
// stride; walking the rows in order and keeping one running float sum per column performs
// the identical sequence of float operations on each column, and reads memory in order.
function boxAlongCols(input, output, numRows, numCols, windowSize, sums) {
  const half = Math.trunc((windowSize + 2) / 2);
  const phase1 = half - 1;
  const phase2 = windowSize - half + 1;
  const phase3 = numRows - windowSize;
  const phase4 = half - 1;
  sums.fill(0, 0, numCols);
  let ri = 0; // row index of the next row to add
  let li = 0; // row index of the next row to subtract
  let oi = 0; // row index of the next row to write
  let size = 0;
  for (let i = 0; i < phase1; i++, ri++) {
    const rb = ri * numCols;
    for (let j = 0; j < numCols; j++) sums[j] += input[rb + j];
    size++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    const rb = ri * numCols;
    const ob = oi * numCols;
    size++;
    for (let j = 0; j < numCols; j++) {
      sums[j] += input[rb + j];
      output[ob + j] = sums[j] / size;
    }
  }
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    const rb = ri * numCols;
    const lb = li * numCols;
    const ob = oi * numCols;
    for (let j = 0; j < numCols; j++) {
      sums[j] += input[rb + j]; // stored as float: one rounding, as in C++
      sums[j] -= input[lb + j];
      output[ob + j] = sums[j] / size;
    }
  }
  for (let i = 0; i < phase4; i++, li++, oi++) {
    const lb = li * numCols;
    const ob = oi * numCols;
    size--;
    for (let j = 0; j < numCols; j++) {
      sums[j] -= input[lb + j];
      output[ob + j] = sums[j] / size;
    }
  }
}

/**
 * The reference's `jaroszFilterFloat`: `nreps` rounds of a box filter along rows then
 * columns (two rounds approximate a tent filter). The result ends in `buffer1`.
 */
export function jaroszFilter(buffer1, buffer2, numRows, numCols, windowAlongRows, windowAlongCols, nreps) {
  const sums = new Float32Array(numCols);
  for (let i = 0; i < nreps; i++) {
    boxAlongRows(buffer1, buffer2, numRows, numCols, windowAlongRows);
    boxAlongCols(buffer2, buffer1, numRows, numCols, windowAlongCols, sums);
  }
}

/** The reference's `decimateFloat`: sample the centres of a 64x64 grid. */
function decimate(input, inRows, inCols, out) {
  for (let i = 0; i < DOWNSAMPLE_DIM; i++) {
    const ini = Math.trunc(((i + 0.5) * inRows) / DOWNSAMPLE_DIM);
    for (let j = 0; j < DOWNSAMPLE_DIM; j++) {
      const inj = Math.trunc(((j + 0.5) * inCols) / DOWNSAMPLE_DIM);
      out[i * DOWNSAMPLE_DIM + j] = input[ini * inCols + inj];
    }
  }
}

/** The reference's `pdqImageDomainQualityMetric`: quantised gradient sum, 0-100. */
export function qualityMetric(b64) {
  const fround = Math.fround;
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = Math.trunc(fround(fround(fround(b64[i * 64 + j] - b64[(i + 1) * 64 + j]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = Math.trunc(fround(fround(fround(b64[i * 64 + j] - b64[i * 64 + j + 1]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

/** The reference's `dct64To16`: B = D A D^T, every sum accumulated in float. */
function dct64To16(a, out) {
  const fround = Math.fround;
  const d = DCT_MATRIX;
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = fround(sum + fround(d[i * 64 + k] * a[k * 64 + j]));
      t[i * 64 + j] = sum;
    }
  }
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = fround(sum + fround(t[i * 64 + k] * d[j * 64 + k]));
      out[i * 16 + j] = sum;
    }
  }
}

/**
 * Torben's median as in the reference's torben.cpp: for n = 256 it returns the lower of the
 * two middle values (the 128th smallest), computed in float.
 */
export function torben(m) {
  const fround = Math.fround;
  const n = m.length;
  const half = Math.trunc((n + 1) / 2);
  let min = m[0];
  let max = m[0];
  for (let i = 1; i < n; i++) {
    if (m[i] < min) min = m[i];
    if (m[i] > max) max = m[i];
  }
  let less;
  let greater;
  let equal;
  let guess;
  let maxltguess;
  let mingtguess;
  for (;;) {
    guess = fround(fround(min + max) / 2);
    less = 0;
    greater = 0;
    equal = 0;
    maxltguess = min;
    mingtguess = max;
    for (let i = 0; i < n; i++) {
      if (m[i] < guess) {
        less++;
        if (m[i] > maxltguess) maxltguess = m[i];
      } else if (m[i] > guess) {
        greater++;
        if (m[i] < mingtguess) mingtguess = m[i];
      } else {
        equal++;
      }
    }
    if (less <= half && greater <= half) break;
    else if (less > greater) max = maxltguess;
    else min = mingtguess;
  }
  if (less >= half) return maxltguess;
  if (less + equal >= half) return guess;
  return mingtguess;
}

const HEX = "0123456789abcdef";

/**
 * Hash bits from the 16x16 DCT: bit k = 16*i + j is set when coefficient (i, j) is strictly
 * greater than Torben's median. Printed like the reference: word 15 first, so bit 255 is the
 * most significant bit of the first hex digit.
 */
function bitsToHex(dct16) {
  const median = torben(dct16);
  let hex = "";
  for (let nibble = 0; nibble < 64; nibble++) {
    const top = 255 - 4 * nibble;
    let v = 0;
    for (let b = 0; b < 4; b++) v = (v << 1) | (dct16[top - b] > median ? 1 : 0);
    hex += HEX[v];
  }
  return hex;
}

/**
 * PDQ of a float luminance image, as the reference's `pdqHash256FromFloatLuma`.
 * `luma` is overwritten (it is the reference's fullBuffer1).
 * @param {Float32Array} luma numRows x numCols, row-major
 * @param {number} numCols width
 * @param {number} numRows height
 * @param {Float32Array} [scratch] second buffer of the same size to reuse
 * @returns {{hash: string, quality: number}}
 */
export function pdqFromLuma(luma, numCols, numRows, scratch) {
  if (numRows < MIN_HASHABLE_DIM || numCols < MIN_HASHABLE_DIM) {
    return { hash: "0".repeat(64), quality: 0 };
  }
  if (numRows === 64 && numCols === 64) {
    // The reference skips the filter when the input is already 64x64.
    return pdqFromFiltered(luma, numCols, numRows);
  }
  const buffer2 = scratch || new Float32Array(numRows * numCols);
  jaroszFilter(
    luma,
    buffer2,
    numRows,
    numCols,
    jaroszWindowSize(numCols, DOWNSAMPLE_DIM),
    jaroszWindowSize(numRows, DOWNSAMPLE_DIM),
    NUM_JAROSZ_XY_PASSES,
  );
  return pdqFromFiltered(luma, numCols, numRows);
}

/**
 * The steps after the tent filter: decimate to 64x64, quality, DCT, bits. For callers that
 * ran the filter themselves (fast.js); `filtered` must be the filter's output.
 */
export function pdqFromFiltered(filtered, numCols, numRows) {
  const b64 = new Float32Array(64 * 64);
  decimate(filtered, numRows, numCols, b64);
  return pdqFromDownsampled(b64);
}

/** Row (or column) indices the reference's decimation samples: trunc((i + 0.5) * n / 64). */
export function decimationIndices(size) {
  const idx = new Int32Array(DOWNSAMPLE_DIM);
  for (let i = 0; i < DOWNSAMPLE_DIM; i++) idx[i] = Math.trunc(((i + 0.5) * size) / DOWNSAMPLE_DIM);
  return idx;
}

/** Quality, DCT and bits of the 64x64 filtered-and-decimated luminance. */
export function pdqFromDownsampled(b64) {
  const quality = qualityMetric(b64);
  const dct16 = new Float32Array(256);
  dct64To16(b64, dct16);
  return { hash: bitsToHex(dct16), quality };
}

/** Window sizes and pass count of PDQ's tent filter for an image of this size. */
export function jaroszPlan(numCols, numRows) {
  return {
    windowAlongRows: jaroszWindowSize(numCols, DOWNSAMPLE_DIM),
    windowAlongCols: jaroszWindowSize(numRows, DOWNSAMPLE_DIM),
    passes: NUM_JAROSZ_XY_PASSES,
  };
}

/**
 * PDQ of 8-bit pixels (already EXIF-oriented and flattened onto white).
 * @param {Uint8Array|Uint8ClampedArray} pixels interleaved RGB or RGBA
 * @param {number} width
 * @param {number} height
 * @param {number} channels 3 or 4
 * @returns {{hash: string, quality: number}}
 */
export function pdqFromPixels(pixels, width, height, channels) {
  const luma = lumaFromPixels(pixels, width, height, channels);
  return pdqFromLuma(luma, width, height);
}
