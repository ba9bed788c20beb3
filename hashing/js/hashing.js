// Browser twin of the server's `hashing` package: hash a File/Blob on the device.
//
// `hashFile(blob)` returns the same record as `python -m hashing FILE` (without "path"):
//   images: {media: "image", md5, sha256, pdq, pdq_quality, phash, dhash}
//   others: {media: "video" | "other", md5, sha256}
// It works on a page and inside a Web Worker (see worker.js and client.js) and never sends
// anything anywhere: the file is read locally and only the hashes are returned.
//
// The pixels follow the server's decoding policy (hashing/decode.py, hashing/README.md):
// EXIF orientation applied, first frame only, no colour management, transparency flattened
// onto white with out = floor((c*a + 255*(255-a) + 127) / 255).

import { digestBlob } from "./digest.js";
import { PixelBuffer, fastPathAvailable, warmUp as warmUpKernels } from "./fast.js";
import { declaredSize } from "./header.js";
import { imagehashesFromGrey } from "./imagehash.js";
import { pdqFromLuma } from "./pdq.js";

// Same limit as the server (hashing.decode.DEFAULT_MAX_PIXELS).
export const MAX_PIXELS = 64_000_000;

const IMAGE_EXTENSIONS = new Set([
  "jpg", "jpeg", "jpe", "jfif", "png", "apng", "gif", "webp", "bmp", "avif", "heic", "heif", "tif", "tiff",
]);
const VIDEO_EXTENSIONS = new Set(["mp4", "m4v", "mov", "webm", "mkv", "avi", "3gp", "3g2", "mpg", "mpeg", "wmv", "ogv"]);

/** A file that cannot be hashed as an image; `code` is "unreadable", "too-large" or "unsupported". */
export class HashingError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "HashingError";
    this.code = code;
  }
}

function extensionOf(name) {
  const dot = typeof name === "string" ? name.lastIndexOf(".") : -1;
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/** "image", "video" or "other", from the MIME type, else the file name's extension. */
export function mediaKind(blob) {
  const type = (blob.type || "").toLowerCase();
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  const ext = extensionOf(blob.name);
  if (IMAGE_EXTENSIONS.has(ext)) return "image";
  if (VIDEO_EXTENSIONS.has(ext)) return "video";
  return "other";
}

function isHeif(blob) {
  const type = (blob.type || "").toLowerCase();
  return type === "image/heic" || type === "image/heif" || ["heic", "heif"].includes(extensionOf(blob.name));
}

/**
 * Decode with the browser's own decoder as the policy requires.
 * `colorSpaceConversion: "none"` leaves ICC profiles unapplied, as Pillow does;
 * `imageOrientation: "from-image"` applies the EXIF orientation, as the server does.
 * @returns {Promise<ImageBitmap>} the caller must close() it
 */
function tooLarge(width, height) {
  return new HashingError(
    "too-large",
    `This image is too large to hash: it is ${width}x${height} pixels; the limit is ${MAX_PIXELS / 1e6} megapixels.`,
  );
}

export async function decodeBitmap(blob) {
  // Refuse a decompression bomb from its header, before the browser decodes it.
  const declared = await declaredSize(blob).catch(() => null);
  if (declared && declared.width * declared.height > MAX_PIXELS) {
    throw tooLarge(declared.width, declared.height);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    if (isHeif(blob)) {
      throw new HashingError(
        "unsupported",
        "This browser cannot open HEIC/HEIF photos. Convert it to JPEG, or choose server-side hashing.",
      );
    }
    throw new HashingError(
      "unreadable",
      "This file could not be read as an image. It may be damaged or in a format this browser does not support.",
    );
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw tooLarge(width, height);
  }
  return bitmap;
}

// VideoFrame's 8-bit formats and the byte order they copy out in, untouched.
const NATIVE_ORDER = { RGBA: "RGBA", RGBX: "RGBA", BGRA: "BGRA", BGRX: "BGRA" };

// Copy through a VideoFrame: one copy straight into `target`, where the canvas path
// premultiplies on draw and un-premultiplies on read. Both give the same bytes (the parity
// tests check each). With `order` "native" the frame's own byte order is kept (no swizzle;
// the caller handles BGRA). Returns the byte order written, or null where VideoFrame cannot
// do it, for the canvas to take over.
async function readViaVideoFrame(bitmap, target, order, pixelBuffer) {
  if (typeof VideoFrame !== "function") return null;
  let frame;
  try {
    frame = new VideoFrame(bitmap, { timestamp: 0 });
    // Chromium keeps an EXIF orientation as frame metadata (rotation/flip) and copyTo()
    // returns the stored, unrotated pixels. A PixelBuffer can turn them itself; otherwise
    // the canvas, which applies the orientation, takes over. Without the rotation/flip
    // attributes we cannot tell, so the canvas is used then too.
    if (!("rotation" in frame) || typeof frame.flip !== "boolean") return null;
    const oriented = frame.rotation !== 0 || frame.flip;
    const native = NATIVE_ORDER[frame.format];
    if (!native || (oriented && !pixelBuffer)) return null;
    if (oriented) {
      if (target !== pixelBuffer.rgba) return null;
      const rgba = order !== "native";
      await frame.copyTo(pixelBuffer.scratch, rgba ? { format: "RGBA" } : undefined);
      pixelBuffer.orientFromScratch(frame.codedWidth, frame.codedHeight, frame.rotation, frame.flip);
      return rgba ? "RGBA" : native;
    }
    if (frame.codedWidth !== bitmap.width || frame.codedHeight !== bitmap.height) return null;
    if (order === "native") {
      await frame.copyTo(target);
      return native;
    }
    await frame.copyTo(target, { format: "RGBA" });
    return "RGBA";
  } catch {
    return null;
  } finally {
    if (frame) frame.close();
  }
}

function readViaCanvas(bitmap, target) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  target.set(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data);
}

/**
 * Un-premultiplied 8-bit pixels of a decoded bitmap, written into `target`
 * (width * height * 4 bytes). `readback` forces "videoframe" or "canvas" (for tests).
 * With `order` "RGBA" the bytes are always RGBA; with "native" they may be BGRA.
 * A `pixelBuffer` (fast.js, with `target` its rgba) lets EXIF-rotated pictures be turned
 * in WebAssembly instead of going through the slower canvas.
 * @returns {Promise<{method: string, order: string}>} how they were read, and their order
 */
export async function readPixels(bitmap, target, readback = "auto", order = "RGBA", pixelBuffer = null) {
  if (readback !== "canvas") {
    const written = await readViaVideoFrame(bitmap, target, order, pixelBuffer);
    if (written) return { method: "videoframe", order: written };
    if (readback === "videoframe") throw new Error("VideoFrame read-back is not available");
  }
  readViaCanvas(bitmap, target);
  return { method: "canvas", order: "RGBA" };
}

/**
 * Decode a file to RGBA following the policy (before flattening), reading the pixels the
 * way hashFile does (for tests and tools; hashFile itself keeps them in WebAssembly memory).
 */
export async function decodeToRgba(blob, { readback = "auto" } = {}) {
  const bitmap = await decodeBitmap(blob);
  try {
    const { width, height } = bitmap;
    if (readback !== "canvas" && width > 64 && height > 64 && fastPathAvailable()) {
      const buffer = new PixelBuffer(width, height);
      try {
        const { method, order } = await readPixels(bitmap, buffer.rgba, readback, "native", buffer);
        const rgba = buffer.rgba.slice();
        if (order === "BGRA") {
          for (let p = 0; p < rgba.length; p += 4) {
            const b = rgba[p];
            rgba[p] = rgba[p + 2];
            rgba[p + 2] = b;
          }
        }
        return { rgba, width, height, method };
      } finally {
        buffer.release();
      }
    }
    const rgba = new Uint8Array(width * height * 4);
    const { method } = await readPixels(bitmap, rgba, readback);
    return { rgba, width, height, method };
  } finally {
    bitmap.close();
  }
}

/**
 * Flatten RGBA onto opaque white in place, with the server's exact integer formula.
 * Fully opaque pixels are left as they are.
 */
export function flattenOnWhite(rgba) {
  for (let p = 3; p < rgba.length; p += 4) {
    const a = rgba[p];
    if (a === 255) continue;
    const bg = 255 * (255 - a) + 127;
    rgba[p - 3] = Math.floor((rgba[p - 3] * a + bg) / 255);
    rgba[p - 2] = Math.floor((rgba[p - 2] * a + bg) / 255);
    rgba[p - 1] = Math.floor((rgba[p - 1] * a + bg) / 255);
    rgba[p] = 255;
  }
  return rgba;
}

// Float64 luminance terms, as pdqhash's NumPy step forms them (see pdq.js).
const LUMA_R = new Float64Array(256);
const LUMA_G = new Float64Array(256);
const LUMA_B = new Float64Array(256);
for (let v = 0; v < 256; v++) {
  LUMA_R[v] = v * 0.299;
  LUMA_G[v] = v * 0.587;
  LUMA_B[v] = v * 0.114;
}

/**
 * PDQ, pHash and dHash of 8-bit pixels that already follow the decoding policy.
 * One pass over the pixels produces both PDQ's float luminance and Pillow's integer
 * greyscale, so a 12 MP photo is read once.
 * @param {Uint8Array|Uint8ClampedArray} pixels interleaved RGB (channels 3) or RGBA (4)
 */
export function hashPixels(pixels, width, height, channels) {
  const n = width * height;
  const luma = new Float32Array(n);
  const grey = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const r = pixels[p];
    const g = pixels[p + 1];
    const b = pixels[p + 2];
    luma[i] = LUMA_R[r] + LUMA_G[g] + LUMA_B[b];
    grey[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
  }
  const { phash, dhash } = imagehashesFromGrey(grey, width, height);
  const pdq = pdqFromLuma(luma, width, height);
  return { pdq: pdq.hash, pdq_quality: pdq.quality, phash, dhash };
}

/**
 * PDQ, pHash and dHash of a decoded bitmap: through WebAssembly (fast.js) where it runs,
 * else through the JavaScript modules. Both give the same bits.
 */
export async function hashBitmap(bitmap, { engine = "auto", readback = "auto" } = {}) {
  const { width, height } = bitmap;
  if (engine !== "js" && width > 64 && height > 64 && fastPathAvailable()) {
    const buffer = new PixelBuffer(width, height);
    try {
      const { order } = await readPixels(bitmap, buffer.rgba, readback, "native", buffer);
      return buffer.hash(order);
    } finally {
      buffer.release();
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  await readPixels(bitmap, rgba, readback);
  return hashPixels(flattenOnWhite(rgba), width, height, 4);
}

/**
 * Hash a File or Blob on this device.
 * @param {Blob} blob
 * @param {{onProgress?: (p: {stage: string, done: number, total: number}) => void}} [options]
 * @returns {Promise<object>} the record described at the top of this file
 * @throws {HashingError} for an image this browser cannot decode or that is too large
 */
export async function hashFile(blob, options = {}) {
  const onProgress = options.onProgress || (() => {});
  const media = mediaKind(blob);
  if (media !== "image") {
    return { media, ...(await digestBlob(blob, (done, total) => onProgress({ stage: "digest", done, total }))) };
  }
  // Start the browser's decode first: it runs on another thread while this one digests.
  onProgress({ stage: "decode", done: 0, total: 1 });
  const decoding = decodeBitmap(blob);
  decoding.catch(() => {}); // handled below, after the digests
  const digests = digestBlob(blob, (done, total) => onProgress({ stage: "digest", done, total }));
  digests.catch(() => {}); // awaited below
  let hashes;
  try {
    const bitmap = await decoding;
    try {
      onProgress({ stage: "hash", done: 0, total: 1 });
      hashes = await hashBitmap(bitmap, options);
    } finally {
      bitmap.close();
    }
  } catch (err) {
    // Let the digests finish (or fail) before reporting, so no read is left running.
    await digests.catch(() => {});
    throw err;
  }
  const { md5, sha256 } = await digests;
  onProgress({ stage: "done", done: 1, total: 1 });
  return { media, md5, sha256, ...hashes };
}

/**
 * Exercise every step once on small made-up images (decoder, pixel read-back, digests,
 * WebAssembly kernels) so the browser has them loaded and optimised before the first real
 * photo. Worth calling when a hashing Worker starts. Returns the milliseconds spent.
 */
export async function warmUp() {
  const start = performance.now();
  warmUpKernels();
  const canvas = new OffscreenCanvas(160, 120);
  const ctx = canvas.getContext("2d");
  const gradient = ctx.createLinearGradient(0, 0, 160, 120);
  gradient.addColorStop(0, "#203040");
  gradient.addColorStop(1, "#f0c080");
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, 160, 120);
  const blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.9 });
  await hashFile(new File([blob], "warm-up.jpg", { type: "image/jpeg" }));
  return performance.now() - start;
}
