// Image dimensions as declared in the file header, read without decoding any pixels.
//
// A decompression bomb (say a 20000x20000 PNG of one colour, a few hundred KB) would
// otherwise be decoded in full, gigabytes of memory and seconds of CPU, before its size
// could be checked. The server checks declared dimensions first too (hashing/decode.py).
// Formats not parsed here (AVIF, HEIF, TIFF) are checked after decoding.

async function bytesAt(blob, start, length) {
  return new Uint8Array(await blob.slice(start, start + length).arrayBuffer());
}

const be16 = (b, i) => (b[i] << 8) | b[i + 1];
const le16 = (b, i) => b[i] | (b[i + 1] << 8);
const le24 = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const be32 = (b, i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const le32s = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
const ascii = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));

// JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...), not DHT/JPG/DAC.
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

async function jpegSize(blob) {
  let at = 2;
  // Walk the marker segments up to the frame header; each is FF xx + a 16-bit length.
  for (let segments = 0; segments < 1000 && at + 9 <= blob.size; segments++) {
    const head = await bytesAt(blob, at, 9);
    if (head[0] !== 0xff) return null;
    const marker = head[1];
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (SOF.has(marker)) return { width: be16(head, 7), height: be16(head, 5) };
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan before a frame
    at += 2 + be16(head, 2);
  }
  return null;
}

/**
 * {width, height} from the header of a PNG, GIF, JPEG, WebP or BMP file, or null.
 * @param {Blob} blob
 */
export async function declaredSize(blob) {
  const b = await bytesAt(blob, 0, 32);
  if (b.length >= 24 && b[0] === 0x89 && ascii(b, 1, 3) === "PNG" && ascii(b, 12, 4) === "IHDR") {
    return { width: be32(b, 16), height: be32(b, 20) };
  }
  if (b.length >= 10 && ascii(b, 0, 4) === "GIF8") {
    return { width: le16(b, 6), height: le16(b, 8) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return jpegSize(blob);
  }
  if (b.length >= 30 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") {
    const chunk = ascii(b, 12, 4);
    if (chunk === "VP8X") return { width: le24(b, 24) + 1, height: le24(b, 27) + 1 };
    if (chunk === "VP8L" && b[20] === 0x2f) {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === "VP8 ") return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff };
    return null;
  }
  if (b.length >= 26 && ascii(b, 0, 2) === "BM") {
    return { width: Math.abs(le32s(b, 18)), height: Math.abs(le32s(b, 22)) };
  }
  return null;
}
