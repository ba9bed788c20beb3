// The same hashes as pdq.js + imagehash.js, with the per-pixel loops in WebAssembly SIMD.
//
// For a 12 MP photo the pure-JavaScript path spends about half a second in four loops (the
// luminance/greyscale pass, PDQ's two rounds of box filters, and the two wide Lanczos
// passes of pHash and dHash). kernels.wat runs those with the same arithmetic, operation
// for operation (see the comments there); everything that touches only 64x64 or 32x32
// values stays in the JavaScript modules. Where WebAssembly SIMD is missing, hashing.js
// falls back to the JavaScript path, which gives the same bits, only slower.

import { WASM_BASE64 } from "./kernels.wasm.js";
import { decimationIndices, jaroszPlan, pdqFromDownsampled } from "./pdq.js";
import {
  dhashFromThumbnail,
  lanczosCoefficients,
  phashFromThumbnail,
  resampleVerticalL,
  rowsNeeded,
} from "./imagehash.js";

const PAGE = 65536;
let compiled;

function kernelsModule() {
  if (compiled === undefined) {
    compiled = null;
    try {
      const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
      if (typeof WebAssembly === "object" && WebAssembly.validate(bytes)) {
        compiled = new WebAssembly.Module(bytes);
      }
    } catch {
      compiled = null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
    }
  }
  return compiled;
}

/** Whether the WebAssembly path can run here. */
export function fastPathAvailable() {
  return kernelsModule() !== null;
}

const align16 = (n) => (n + 15) & ~15;

// One WebAssembly memory is kept and reused from photo to photo: fresh memory costs a page
// fault per 4 KB on first touch, tens of milliseconds for a 12 MP photo. Very large images
// get memory of their own, released with them, so a phone does not keep hundreds of MB.
// One PixelBuffer at a time owns the kept memory (two files hashed concurrently in one
// Worker must not share it); the others get memory of their own.
const KEEP_MEMORY_UP_TO = 192 * 1024 * 1024;
let keptMemory = null;
let keptMemoryOwner = null;

function claimMemory(owner, bytes) {
  const pages = Math.ceil(bytes / PAGE);
  if (bytes > KEEP_MEMORY_UP_TO || keptMemoryOwner !== null) {
    return new WebAssembly.Memory({ initial: pages });
  }
  if (keptMemory === null) {
    keptMemory = new WebAssembly.Memory({ initial: pages });
  } else if (keptMemory.buffer.byteLength < bytes) {
    keptMemory.grow(pages - keptMemory.buffer.byteLength / PAGE);
  }
  keptMemoryOwner = owner;
  return keptMemory;
}

// Lanczos weights for one axis; photos from one camera share sizes, so keep the last few.
const coefficientCache = new Map();
function cachedCoefficients(inSize, outSize) {
  const key = `${inSize}>${outSize}`;
  let coeffs = coefficientCache.get(key);
  if (!coeffs) {
    if (coefficientCache.size >= 16) coefficientCache.delete(coefficientCache.keys().next().value);
    coeffs = lanczosCoefficients(inSize, outSize);
    coefficientCache.set(key, coeffs);
  }
  return coeffs;
}

// The weights of one Lanczos axis as resampleHDot reads them: per output pixel, padded with
// zeros to a multiple of 8 taps, as i16; where a weight needs more than 16 bits, split as
// hi * 32768 + lo (lo at `lo`, hi at `hi`), else `hi` is null and `lo` holds the weights.
function dotWeights(coeffs) {
  if (coeffs.dot) return coeffs.dot;
  const { ksize, bounds, kk } = coeffs;
  const outSize = bounds.length / 2;
  let longest = 0;
  let fits = true;
  for (let xx = 0; xx < outSize; xx++) longest = Math.max(longest, bounds[xx * 2 + 1]);
  for (const w of kk) if (w < -32768 || w > 32767) fits = false;
  const stride = (longest + 7) & ~7;
  const lo = new Int16Array(outSize * stride);
  const hi = fits ? null : new Int16Array(outSize * stride);
  for (let xx = 0; xx < outSize; xx++) {
    for (let x = 0; x < bounds[xx * 2 + 1]; x++) {
      const w = kk[xx * ksize + x];
      if (fits) {
        lo[xx * stride + x] = w;
      } else {
        lo[xx * stride + x] = w & 0x7fff;
        hi[xx * stride + x] = w >> 15;
      }
    }
  }
  coeffs.dot = { stride, lo, hi };
  return coeffs.dot;
}

// The Lanczos plan for one thumbnail: coefficients for both axes and the source rows used.
function thumbnailPlan(width, height, outW, outH) {
  const horiz = cachedCoefficients(width, outW);
  const vert = cachedCoefficients(height, outH);
  const { first, last } = rowsNeeded(vert, outH);
  return { outW, outH, horiz, dot: dotWeights(horiz), vert, first, rows: last - first };
}

// Rows hashed at a time. Everything after the RGBA goes through buffers of a few rows that
// stay in the CPU's cache: the luminance and greyscale of BLOCK rows, PDQ's row-filtered
// rows in a ring as deep as the column filter's window, its column-filtered rows. A full
// float copy of a 12 MP photo (48 MB, three of them) went out to memory and back on every
// pass before, which cost more than the arithmetic.
const BLOCK = 8;

/**
 * RGBA pixels in WebAssembly memory, hashed in place: [RGBA | small working buffers |
 * room for the stored pixels of an EXIF-rotated photo, added only when one comes].
 * Only for images larger than 64x64 in both directions (smaller ones take the JS path,
 * which carries the references' special cases for tiny and exactly-64x64 inputs).
 */
export class PixelBuffer {
  #rgba = null;

  constructor(width, height) {
    const module = kernelsModule();
    if (!module) throw new Error("WebAssembly SIMD is not available");
    if (width <= 64 || height <= 64) throw new Error("PixelBuffer is for images larger than 64x64");
    const n = width * height;
    this.width = width;
    this.height = height;
    this.phashPlan = thumbnailPlan(width, height, 32, 32);
    this.dhashPlan = thumbnailPlan(width, height, 9, 8);
    this.filter = jaroszPlan(width, height);
    if (this.filter.passes !== 2) throw new Error("fast.js assumes PDQ's two filter rounds");
    // The row-filtered rings: deep enough that a row is still there when the column filter
    // subtracts it (windowAlongCols rows later), in whole blocks.
    this.ringRows = Math.ceil((this.filter.windowAlongCols + BLOCK) / BLOCK) * BLOCK;
    let at = 0;
    const take = (bytes) => {
      const start = at;
      at = align16(at + bytes);
      return start;
    };
    this.rgbaPtr = take(4 * n);
    this.greyPtr = take(BLOCK * width + 16); // resampleHDot reads up to 7 bytes past a row
    this.lumaPtr = take(4 * BLOCK * width);
    this.ringPtr = take(4 * this.ringRows * width);
    this.ring2Ptr = take(4 * BLOCK * width);
    this.sumsPtr = take(4 * width);
    this.stripPtr = take(16 * width); // four rows interleaved, for the row filter
    this.strip2Ptr = take(16 * width);
    this.pickedPtr = take(64 * 4); // the 64 columns PDQ's decimation samples
    this.divisorsPtr = take(64 * 4);
    this.narrowPtr = take(64 * 4 * height); // the last row pass, those columns only
    this.narrow2Ptr = take(64 * 4 * height);
    for (const plan of [this.phashPlan, this.dhashPlan]) {
      plan.boundsPtr = take(plan.horiz.bounds.byteLength);
      plan.loPtr = take(plan.dot.lo.byteLength);
      plan.hiPtr = plan.dot.hi ? take(plan.dot.hi.byteLength) : 0;
      plan.tempPtr = take(plan.rows * plan.outW);
    }
    this.scratchPtr = at;
    this.memory = claimMemory(this, at);
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports;
  }

  /** Write the decoded pixels here (width * height * 4 bytes), RGBA unless told otherwise. */
  get rgba() {
    // A new view after the memory grew (growing detaches the old one).
    if (this.#rgba === null || this.#rgba.buffer !== this.memory.buffer) {
      this.#rgba = new Uint8Array(this.memory.buffer, this.rgbaPtr, 4 * this.width * this.height);
    }
    return this.#rgba;
  }

  /**
   * Room for the decoder's stored (un-rotated) pixels, when the picture carries an EXIF
   * orientation, after everything else; the memory grows for it the first time.
   */
  get scratch() {
    const bytes = 4 * this.width * this.height;
    const missing = this.scratchPtr + bytes - this.memory.buffer.byteLength;
    if (missing > 0) this.memory.grow(Math.ceil(missing / PAGE));
    return new Uint8Array(this.memory.buffer, this.scratchPtr, bytes);
  }

  /**
   * Fill `rgba` from `scratch`, which holds the stored pixels (codedWidth x codedHeight),
   * turned as a VideoFrame's `rotation` (clockwise degrees) and `flip` (a horizontal mirror
   * applied after the rotation) say, which is how Chromium reports an EXIF orientation.
   */
  orientFromScratch(codedWidth, codedHeight, rotation, flip) {
    const turned = rotation === 90 || rotation === 270;
    const width = turned ? codedHeight : codedWidth;
    const height = turned ? codedWidth : codedHeight;
    if (width !== this.width || height !== this.height || ![0, 90, 180, 270].includes(rotation)) {
      throw new Error("orientation does not match the image size");
    }
    // Source pixel index of destination pixel (x, y): undo the mirror, then the rotation.
    const source = (x, y) => {
      if (flip) x = width - 1 - x;
      if (rotation === 90) return (codedHeight - 1 - x) * codedWidth + y;
      if (rotation === 180) return (codedHeight - 1 - y) * codedWidth + (codedWidth - 1 - x);
      if (rotation === 270) return x * codedWidth + (codedWidth - 1 - y);
      return y * codedWidth + x;
    };
    const start = source(0, 0);
    this.kernels.orient(this.scratchPtr, this.rgbaPtr, width, height, start, source(1, 0) - start, source(0, 1) - start);
  }

  /** Give the memory back for the next image (hash() does this when it finishes). */
  release() {
    if (keptMemoryOwner === this) keptMemoryOwner = null;
  }

  /**
   * PDQ, quality, pHash and dHash of the pixels in `this.rgba` (flattened in place).
   * @param {string} [order] "RGBA" or "BGRA": the byte order the pixels were written in
   * @param {object} [timings] if given, milliseconds per stage are added to it (profiling;
   *   its `now()`, if it has one, is the clock, e.g. CPU time in Node)
   */
  hash(order = "RGBA", timings = null) {
    try {
      return this.#hash(order, timings);
    } finally {
      this.release();
    }
  }

  #hash(order, timings) {
    const { width, height, kernels: k, memory, ringRows } = this;
    const { windowAlongRows, windowAlongCols } = this.filter;
    if (order !== "RGBA" && order !== "BGRA") throw new Error(`unsupported pixel order ${order}`);
    const clock = timings?.now || (() => performance.now());
    let t = timings ? clock() : 0;
    const lap = (name) => {
      if (!timings) return;
      const now = clock();
      timings[name] = (timings[name] || 0) + now - t;
      t = now;
    };
    const bgra = order === "BGRA" ? 1 : 0;
    const rowBytes = 4 * width;
    const plans = [this.phashPlan, this.dhashPlan];
    for (const plan of plans) {
      new Int32Array(memory.buffer, plan.boundsPtr, plan.horiz.bounds.length).set(plan.horiz.bounds);
      new Int16Array(memory.buffer, plan.loPtr, plan.dot.lo.length).set(plan.dot.lo);
      if (plan.dot.hi) new Int16Array(memory.buffer, plan.hiPtr, plan.dot.hi.length).set(plan.dot.hi);
    }
    const { stripPtr, strip2Ptr, pickedPtr, divisorsPtr, narrowPtr, narrow2Ptr, sumsPtr } = this;
    // PDQ's second row pass keeps only the 64 columns decimation samples, and divides only
    // those: by the full window where it slid, by 1.0 where the kernel already divided.
    const picked = decimationIndices(width);
    const slideFrom = windowAlongRows - Math.trunc((windowAlongRows + 2) / 2) + 1;
    const slideTo = slideFrom + width - windowAlongRows;
    new Int32Array(memory.buffer, pickedPtr, 64).set(picked);
    new Float32Array(memory.buffer, divisorsPtr, 64).set(
      Array.from(picked, (c) => (c >= slideFrom && c < slideTo ? windowAlongRows : 1)),
    );
    new Float32Array(memory.buffer, sumsPtr, width).fill(0);

    // PDQ's column filter (pdq.js boxAlongCols) as a sequence of row steps, each run as soon
    // as the row it adds has been row-filtered: step s adds row s (for s < height) and, from
    // step windowAlongCols on, subtracts row s - windowAlongCols; it writes output rows from
    // step half - 1 on. Output rows gather in ring2 and go through the second row pass a
    // block at a time, into `narrow`.
    const half = Math.trunc((windowAlongCols + 2) / 2);
    const steps = windowAlongCols + height - windowAlongCols + half - 1;
    const ring = (row) => this.ringPtr + (row % ringRows) * rowBytes;
    const ring2 = (row) => this.ring2Ptr + (row % BLOCK) * rowBytes;
    let step = 0;
    let size = 0;
    let written = 0;
    const columnSteps = (available) => {
      for (; step < steps; step++) {
        if (step < height && step >= available) return;
        const add = step < height ? ring(step) : -1;
        const sub = step >= windowAlongCols ? ring(step - windowAlongCols) : -1;
        if (step < windowAlongCols) size++;
        else if (step >= height) size--;
        if (step < half - 1) {
          k.colStep(add, -1, -1, sumsPtr, width, 1);
          continue;
        }
        k.colStep(add, sub, ring2(written), sumsPtr, width, size);
        written++;
        if (written % BLOCK === 0 || written === height) {
          const first = written - (((written - 1) % BLOCK) + 1);
          lap("PDQ columns");
          k.boxRows(ring2(first), narrowPtr + first * 256, written - first, width, windowAlongRows,
            stripPtr, strip2Ptr, pickedPtr, 64, divisorsPtr);
          lap("PDQ rows, second round (64 columns)");
        }
      }
    };

    for (let row = 0; row < height; row += BLOCK) {
      const rows = Math.min(BLOCK, height - row);
      k.prep(this.rgbaPtr + row * rowBytes, rows * width, this.lumaPtr, this.greyPtr, bgra);
      lap("luminance + greyscale");
      // pHash and dHash: the wide horizontal Lanczos pass on the rows they use.
      for (const plan of plans) {
        const from = Math.max(row, plan.first);
        const to = Math.min(row + rows, plan.first + plan.rows);
        if (to <= from) continue;
        k.resampleHDot(this.greyPtr, width, from - row, to - from, plan.outW, plan.boundsPtr,
          plan.loPtr, plan.hiPtr, plan.dot.stride, plan.tempPtr + (from - plan.first) * plan.outW);
      }
      lap("pHash + dHash rows (Lanczos)");
      k.boxRows(this.lumaPtr, ring(row), rows, width, windowAlongRows, stripPtr, strip2Ptr, 0, 0, 0);
      lap("PDQ rows, first round");
      columnSteps(row + rows);
      lap("PDQ columns");
    }
    columnSteps(height);
    if (written !== height) throw new Error("PDQ's column filter lost rows");
    lap("PDQ columns");

    const thumbs = plans.map((plan) => {
      const temp = new Uint8Array(memory.buffer, plan.tempPtr, plan.rows * plan.outW);
      return resampleVerticalL(temp, plan.outW, plan.outH, plan.vert, plan.first);
    });
    lap("pHash + dHash columns");
    boxCols(k, memory, narrowPtr, narrow2Ptr, height, 64, windowAlongCols, sumsPtr);
    const narrow = new Float32Array(memory.buffer, narrow2Ptr, 64 * height);
    const b64 = new Float32Array(64 * 64);
    const rowsPicked = decimationIndices(height);
    for (let i = 0; i < 64; i++) b64.set(narrow.subarray(rowsPicked[i] * 64, rowsPicked[i] * 64 + 64), i * 64);
    const pdq = pdqFromDownsampled(b64);
    lap("PDQ second columns, DCT, quality");
    return {
      pdq: pdq.hash,
      pdq_quality: pdq.quality,
      phash: phashFromThumbnail(thumbs[0]),
      dhash: dhashFromThumbnail(thumbs[1]),
    };
  }
}

// pdq.js boxAlongCols, driven row step by row step; each step runs across all columns in
// WebAssembly. -1 means "no row" for colStep's add/subtract/write operands.
function boxCols(k, memory, input, output, numRows, numCols, windowSize, sumsPtr) {
  new Float32Array(memory.buffer, sumsPtr, numCols).fill(0);
  const half = Math.trunc((windowSize + 2) / 2);
  const phase1 = half - 1;
  const phase2 = windowSize - half + 1;
  const phase3 = numRows - windowSize;
  const phase4 = half - 1;
  const rowBytes = numCols * 4;
  let ri = 0;
  let li = 0;
  let oi = 0;
  let size = 0;
  for (let i = 0; i < phase1; i++, ri++) {
    k.colStep(input + ri * rowBytes, -1, -1, sumsPtr, numCols, 1);
    size++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    size++;
    k.colStep(input + ri * rowBytes, -1, output + oi * rowBytes, sumsPtr, numCols, size);
  }
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    k.colStep(input + ri * rowBytes, input + li * rowBytes, output + oi * rowBytes, sumsPtr, numCols, size);
  }
  for (let i = 0; i < phase4; i++, li++, oi++) {
    size--;
    k.colStep(-1, input + li * rowBytes, output + oi * rowBytes, sumsPtr, numCols, size);
  }
}

/**
 * Hash a few small synthetic images so the browser optimises the WebAssembly and the
 * JavaScript around it before the first real photo (the first run otherwise goes through
 * the baseline compiler, about twice as slow). Returns the milliseconds spent.
 */
export function warmUp() {
  const start = performance.now();
  if (!fastPathAvailable()) return 0;
  for (let round = 0; round < 3; round++) {
    const buffer = new PixelBuffer(512, 384);
    let seed = round + 1;
    for (let i = 0; i < buffer.rgba.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      buffer.rgba[i] = (i & 3) === 3 ? 255 : (seed >>> 16) & 255;
    }
    buffer.hash();
  }
  return performance.now() - start;
}
