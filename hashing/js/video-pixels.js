// Video frame pixels to PDQ, converted as vpdq's swscale converts them (see video.js, step 3
// of the rule): used by video.js on its own thread and by video-frames.js, the helper
// Worker that hashes sampled frames while video.js keeps the decoder fed.

import { PixelBuffer, fastPathAvailable } from "./fast.js";
import { pdqFromPixels } from "./pdq.js";

// Pixels: swscale's YUV -> RGB24 as vpdq sets it up (sws_getContext(..., SWS_AREA)).

// libswscale/yuv2rgb.c ff_yuv2rgb_coeffs[SWS_CS_ITU601]: crv, cbu, cgu, cgv (16.16).
const ITU601 = [104597, 132201, 25675, 53279];
const roundToInt16 = (x) => Math.floor((x + 0x8000) / 0x10000);

/**
 * Lookup tables of swscale's x86 yuv2rgb for 8-bit input (ff_yuv2rgb_c_init_tables sets
 * the coefficients; yuv_2_rgb.asm multiplies with pmulhw, i.e. (a * b) >> 16, on values
 * scaled by 8). R = clamp(y[Y] + rV[V]), G = clamp(y[Y] + gU[U] + gV[V]), B = clamp(y[Y] + bU[U]).
 */
function swscaleTables(fullRange) {
  let [crv, cbu, cgu, cgv] = [ITU601[0], ITU601[1], -ITU601[2], -ITU601[3]];
  let cy = 1 << 16;
  let oy = 0;
  if (!fullRange) {
    cy = Math.floor((cy * 255) / 219);
    oy = 16 << 16;
  } else {
    // C integer division truncates toward zero.
    [crv, cbu, cgu, cgv] = [crv, cbu, cgu, cgv].map((c) => Math.trunc((c * 224) / 255));
  }
  const yCoeff = roundToInt16(cy * 8192);
  const yOffset = roundToInt16(oy * 8);
  const [vr, ub, ug, vg] = [crv, cbu, cgu, cgv].map((c) => roundToInt16(c * 8192));
  const mulhi = (a, b) => Math.floor((a * b) / 65536);
  const tables = { y: new Int32Array(256), rV: new Int32Array(256), gU: new Int32Array(256), gV: new Int32Array(256), bU: new Int32Array(256) };
  for (let v = 0; v < 256; v++) {
    tables.y[v] = mulhi(v * 8 - yOffset, yCoeff);
    const c = v * 8 - 1024;
    tables.rV[v] = mulhi(c, vr);
    tables.gU[v] = mulhi(c, ug);
    tables.gV[v] = mulhi(c, vg);
    tables.bU[v] = mulhi(c, ub);
  }
  return tables;
}
const TABLES = { limited: swscaleTables(false), full: swscaleTables(true) };

const clamp8 = (x) => (x < 0 ? 0 : x > 255 ? 255 : x);

// Planar layouts: [chroma x shift, chroma y shift, bytes per sample, semi-planar].
export const LAYOUTS = {
  I420: [1, 1, 1, false], I420A: [1, 1, 1, false], I422: [1, 0, 1, false], I444: [0, 0, 1, false],
  I444A: [0, 0, 1, false], NV12: [1, 1, 1, true],
  I420P10: [1, 1, 2, false], I420AP10: [1, 1, 2, false], I422P10: [1, 0, 2, false], I444P10: [0, 0, 2, false],
  I420P12: [1, 1, 2, false], I422P12: [1, 0, 2, false], I444P12: [0, 0, 2, false],
};

// clamp8 as a table: CLAMP[x + CLAMP_OFFSET] for every sum the tables can produce.
const CLAMP_OFFSET = 512;
const CLAMP = new Uint8Array(1536).map((_, i) => clamp8(i - CLAMP_OFFSET));
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// 8-bit 4:2:0 / 4:2:2 (planar or NV12), swscale's fixed point: exact. Pixels come in pairs
// sharing one chroma sample. With RGBA output on a little-endian machine (all of them, in
// practice) each pixel is one 32-bit store (14 ms of CPU for a 1080p frame in V8).
function convert8bit(data, yPlane, uPlane, vPlane, step, sy, width, height, t, out, channels) {
  const { y: ty, rV, gU, gV, bU } = t;
  const vShift = step === 2 ? 1 : 0;
  const words =
    channels === 4 && LITTLE_ENDIAN && out.byteOffset % 4 === 0
      ? new Uint32Array(out.buffer, out.byteOffset, width * height)
      : null;
  const even = width & ~1;
  for (let row = 0; row < height; row++) {
    let yi = yPlane.offset + row * yPlane.stride;
    const cRow = row >> sy;
    let ui = uPlane.offset + cRow * uPlane.stride;
    let vi = vPlane.offset + cRow * vPlane.stride + vShift;
    let o = row * width;
    const end = o + even;
    if (words) {
      while (o < end) {
        const u = data[ui];
        const v = data[vi];
        ui += step;
        vi += step;
        const r = rV[v] + CLAMP_OFFSET;
        const g = gU[u] + gV[v] + CLAMP_OFFSET;
        const b = bU[u] + CLAMP_OFFSET;
        let y = ty[data[yi++]];
        words[o++] = 0xff000000 | (CLAMP[y + b] << 16) | (CLAMP[y + g] << 8) | CLAMP[y + r];
        y = ty[data[yi++]];
        words[o++] = 0xff000000 | (CLAMP[y + b] << 16) | (CLAMP[y + g] << 8) | CLAMP[y + r];
      }
      if (width & 1) {
        const u = data[ui];
        const v = data[vi];
        const y = ty[data[yi]];
        words[o] =
          0xff000000 |
          (CLAMP[y + bU[u] + CLAMP_OFFSET] << 16) |
          (CLAMP[y + gU[u] + gV[v] + CLAMP_OFFSET] << 8) |
          CLAMP[y + rV[v] + CLAMP_OFFSET];
      }
      continue;
    }
    for (let col = 0; col < width; col++, o++) {
      const u = data[ui + (col >> 1) * step];
      const v = data[vi + (col >> 1) * step];
      const y = ty[data[yi + col]];
      const p = o * channels;
      out[p] = CLAMP[y + rV[v] + CLAMP_OFFSET];
      out[p + 1] = CLAMP[y + gU[u] + gV[v] + CLAMP_OFFSET];
      out[p + 2] = CLAMP[y + bU[u] + CLAMP_OFFSET];
      if (channels === 4) out[p + 3] = 255;
    }
  }
}

/**
 * Write the frame's pixels as RGB into `out` (`channels` 3 or 4 bytes a pixel; alpha 255),
 * converted as the server does (see the top of this file).
 * @param {Uint8Array} data the planes as VideoFrame.copyTo wrote them
 * @param {PlaneLayout[]} layout their offsets and strides
 */
export function convertFrame(format, data, layout, width, height, fullRange, out, channels) {
  const spec = LAYOUTS[format];
  if (!spec) throw new Error(`unsupported frame format ${format}`);
  const [sx, sy, bytes, semi] = spec;
  const yPlane = layout[0];
  const uPlane = layout[1];
  const vPlane = semi ? layout[1] : layout[2];
  // swscale's yuv2rgb fast path needs an even height; odd heights go through its generic
  // scaler, whose chroma filtering is not reproduced: the float formula below is closer.
  if (bytes === 1 && sx === 1 && height % 2 === 0) {
    convert8bit(data, yPlane, uPlane, vPlane, semi ? 2 : 1, sy, width, height, fullRange ? TABLES.full : TABLES.limited, out, channels);
    return;
  }
  // 4:4:4, high bit depth and odd heights: BT.601 in floating point, rounded (near, not
  // always exact).
  const depth = format.endsWith("P12") ? 12 : format.includes("P10") ? 10 : 8;
  const scale = 1 / (1 << (depth - 8));
  const wide = bytes === 2 ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength >> 1) : null;
  const sample = (plane, x, y) =>
    wide ? wide[(plane.offset + y * plane.stride) / 2 + x] * scale : data[plane.offset + y * plane.stride + x];
  const ky = fullRange ? 1 : 255 / 219;
  const kc = fullRange ? 1 : 255 / 224;
  const oy = fullRange ? 0 : 16;
  for (let row = 0; row < height; row++) {
    let o = row * width * channels;
    for (let col = 0; col < width; col++) {
      const y = (sample(yPlane, col, row) - oy) * ky;
      const cx = col >> sx;
      const cy = row >> sy;
      const u = (semi ? sample(uPlane, cx * 2, cy) : sample(uPlane, cx, cy)) - 128;
      const v = (semi ? sample(vPlane, cx * 2 + 1, cy) : sample(vPlane, cx, cy)) - 128;
      out[o] = clamp8(Math.round(y + 1.402 * kc * v));
      out[o + 1] = clamp8(Math.round(y - 0.344136 * kc * u - 0.714136 * kc * v));
      out[o + 2] = clamp8(Math.round(y + 1.772 * kc * u));
      if (channels === 4) out[o + 3] = 255;
      o += channels;
    }
  }
}

/** PDQ of RGB(A) pixels filled by `fill(target, channels)`, through fast.js where it runs. */
export function pdqOf(width, height, fill) {
  if (width > 64 && height > 64 && fastPathAvailable()) {
    const buffer = new PixelBuffer(width, height);
    try {
      fill(buffer.rgba, 4);
      const { pdq, pdq_quality: quality } = buffer.hash("RGBA");
      return { pdq, quality };
    } finally {
      buffer.release();
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  fill(rgb, 3);
  const { hash, quality } = pdqFromPixels(rgb, width, height, 3);
  return { pdq: hash, quality };
}

/** PDQ of a frame's planes as VideoFrame.copyTo wrote them: {pdq, quality}. */
export function hashPlanes(format, data, layout, width, height, fullRange) {
  return pdqOf(width, height, (target, channels) =>
    convertFrame(format, data, layout, width, height, fullRange, target, channels),
  );
}

/** PDQ of RGBA pixels the browser converted itself (frames without planes): {pdq, quality}. */
export function hashRgba(rgba, width, height) {
  return pdqOf(width, height, (target, channels) => {
    for (let i = 0, o = 0; i < rgba.length; i += 4, o += channels) {
      target[o] = rgba[i];
      target[o + 1] = rgba[i + 1];
      target[o + 2] = rgba[i + 2];
      if (channels === 4) target[o + 3] = 255;
    }
  });
}

/**
 * PDQ of a frame copied out of a VideoFrame: {kind: "planes", format, data, layout, width,
 * height, fullRange} or {kind: "rgba", data, width, height}. Returns {pdq, quality}.
 */
export function hashCopiedFrame(job) {
  return job.kind === "rgba"
    ? hashRgba(job.data, job.width, job.height)
    : hashPlanes(job.format, job.data, job.layout, job.width, job.height, job.fullRange);
}
