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

// The Lanczos plan for one thumbnail: coefficients for both axes and the source rows used.
function thumbnailPlan(width, height, outW, outH) {
  const horiz = cachedCoefficients(width, outW);
  const vert = cachedCoefficients(height, outH);
  const { first, last } = rowsNeeded(vert, outH);
  return { outW, outH, horiz, vert, first, rows: last - first };
}

/**
 * RGBA pixels in WebAssembly memory, laid out for hashing without further copies:
 * [RGBA, reused as PDQ's second float buffer | float luminance | greyscale | scratch].
 * Only for images larger than 64x64 in both directions (smaller ones take the JS path,
 * which carries the references' special cases for tiny and exactly-64x64 inputs).
 */
export class PixelBuffer {
  constructor(width, height) {
    const module = kernelsModule();
    if (!module) throw new Error("WebAssembly SIMD is not available");
    if (width <= 64 || height <= 64) throw new Error("PixelBuffer is for images larger than 64x64");
    const n = width * height;
    this.width = width;
    this.height = height;
    this.phashPlan = thumbnailPlan(width, height, 32, 32);
    this.dhashPlan = thumbnailPlan(width, height, 9, 8);
    let at = 0;
    const take = (bytes) => {
      const start = at;
      at = align16(at + bytes);
      return start;
    };
    this.rgbaPtr = take(4 * n);
    this.lumaPtr = take(4 * n);
    this.greyPtr = take(n);
    this.sumsPtr = take(4 * width);
    this.stripPtr = take(16 * width); // four rows interleaved, for the row filter
    this.strip2Ptr = take(16 * width);
    this.pickedPtr = take(64 * 4); // the 64 columns PDQ's decimation samples
    this.narrowPtr = take(64 * 4 * height); // the last row pass, those columns only
    this.narrow2Ptr = take(64 * 4 * height);
    for (const plan of [this.phashPlan, this.dhashPlan]) {
      plan.boundsPtr = take(plan.horiz.bounds.byteLength);
      plan.kkPtr = take(plan.horiz.kk.byteLength);
      plan.tempPtr = take(plan.rows * plan.outW);
    }
    this.memory = claimMemory(this, at);
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports;
    /** Write the decoded pixels here (width * height * 4 bytes), RGBA unless told otherwise. */
    this.rgba = new Uint8Array(this.memory.buffer, this.rgbaPtr, 4 * n);
  }

  /**
   * Room for the decoder's stored (un-rotated) pixels, when the picture carries an EXIF
   * orientation: the luminance area, which is not in use before hash().
   */
  get scratch() {
    return new Uint8Array(this.memory.buffer, this.lumaPtr, 4 * this.width * this.height);
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
    this.kernels.orient(this.lumaPtr, this.rgbaPtr, width, height, start, source(1, 0) - start, source(0, 1) - start);
  }

  /** Give the memory back for the next image (hash() does this when it finishes). */
  release() {
    if (keptMemoryOwner === this) keptMemoryOwner = null;
  }

  /**
   * PDQ, quality, pHash and dHash of the pixels in `this.rgba` (flattened in place).
   * @param {string} [order] "RGBA" or "BGRA": the byte order the pixels were written in
   */
  hash(order = "RGBA") {
    try {
      return this.#hash(order);
    } finally {
      this.release();
    }
  }

  #hash(order) {
    const { width, height, kernels: k, memory } = this;
    const n = width * height;
    if (order !== "RGBA" && order !== "BGRA") throw new Error(`unsupported pixel order ${order}`);
    k.prep(this.rgbaPtr, n, this.lumaPtr, this.greyPtr, order === "BGRA" ? 1 : 0);

    // pHash and dHash: the wide horizontal pass in WebAssembly, the rest in imagehash.js.
    const thumbs = [this.phashPlan, this.dhashPlan].map((plan) => {
      new Int32Array(memory.buffer, plan.boundsPtr, plan.horiz.bounds.length).set(plan.horiz.bounds);
      new Int32Array(memory.buffer, plan.kkPtr, plan.horiz.kk.length).set(plan.horiz.kk);
      k.resampleH(this.greyPtr, width, plan.first, plan.rows, plan.outW, plan.boundsPtr, plan.kkPtr, plan.horiz.ksize, plan.tempPtr);
      const temp = new Uint8Array(memory.buffer, plan.tempPtr, plan.rows * plan.outW);
      return resampleVerticalL(temp, plan.outW, plan.outH, plan.vert, plan.first);
    });

    // PDQ's tent filter: luminance -> (rows) -> second buffer -> (columns) -> luminance, and
    // again. Only 64x64 values of the result are ever read (decimation), so the second
    // round keeps just the 64 sampled columns: its row pass still runs every running sum
    // over the whole row, then writes only those columns, and its column pass runs on them.
    const { windowAlongRows, windowAlongCols, passes } = jaroszPlan(width, height);
    if (passes !== 2) throw new Error("fast.js assumes PDQ's two filter rounds");
    const buffer2 = this.rgbaPtr; // the RGBA is no longer needed
    const { stripPtr, strip2Ptr, pickedPtr, narrowPtr, narrow2Ptr, sumsPtr } = this;
    k.boxRows(this.lumaPtr, buffer2, height, width, windowAlongRows, stripPtr, strip2Ptr, 0, 0);
    boxCols(k, memory, buffer2, this.lumaPtr, height, width, windowAlongCols, sumsPtr);
    new Int32Array(memory.buffer, pickedPtr, 64).set(decimationIndices(width));
    k.boxRows(this.lumaPtr, narrowPtr, height, width, windowAlongRows, stripPtr, strip2Ptr, pickedPtr, 64);
    boxCols(k, memory, narrowPtr, narrow2Ptr, height, 64, windowAlongCols, sumsPtr);
    const narrow = new Float32Array(memory.buffer, narrow2Ptr, 64 * height);
    const b64 = new Float32Array(64 * 64);
    const rowsPicked = decimationIndices(height);
    for (let i = 0; i < 64; i++) b64.set(narrow.subarray(rowsPicked[i] * 64, rowsPicked[i] * 64 + 64), i * 64);
    const pdq = pdqFromDownsampled(b64);
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
