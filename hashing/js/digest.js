// Streaming MD5 and SHA-256 of a Blob/File, in constant memory.
//
// WebCrypto's digest() needs the whole input in one buffer, which a phone cannot hold for a
// long video, so the bytes are read chunk by chunk from blob.stream() and fed to the
// incremental hashers of hash-wasm (vendored whole, pinned, see vendor/README.md).
// Nothing leaves the device: the bytes go from the file to the hashers and nowhere else.

import { createMD5, createSHA256 } from "./vendor/hash-wasm-4.13.0/index.esm.min.js";

// Files up to this size are digested from one read; bigger ones are streamed.
export const WHOLE_READ_LIMIT = 64 * 1024 * 1024;

/**
 * @param {Blob} blob
 * @param {(done: number, total: number) => void} [onProgress] called after each chunk
 * @returns {Promise<{md5: string, sha256: string}>} lower-case hex
 */
export async function digestBlob(blob, onProgress) {
  // Small files (photos) are read in one go: many small stream reads cost more than the
  // hashing itself. Anything larger streams in chunks, so memory stays flat.
  if (blob.size <= WHOLE_READ_LIMIT) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    // SHA-256 through WebCrypto where there is one (secure contexts): the browser's native
    // code, with the CPU's SHA instructions, on its own thread while MD5 runs here; a
    // quarter of hash-wasm's time for a photo. WebCrypto has no MD5.
    const native = nativeSha256(bytes);
    const md5 = await createMD5();
    md5.init();
    md5.update(bytes);
    const md5Hex = md5.digest("hex");
    let sha256Hex = native ? await native.catch(() => null) : null;
    if (sha256Hex === null) {
      const sha256 = await createSHA256();
      sha256.init();
      sha256.update(bytes);
      sha256Hex = sha256.digest("hex");
    }
    if (onProgress) onProgress(bytes.byteLength, blob.size);
    return { md5: md5Hex, sha256: sha256Hex };
  }
  const [md5, sha256] = await Promise.all([createMD5(), createSHA256()]);
  md5.init();
  sha256.init();
  const reader = blob.stream().getReader();
  let done = 0;
  for (;;) {
    const { value, done: finished } = await reader.read();
    if (finished) break;
    md5.update(value);
    sha256.update(value);
    done += value.byteLength;
    if (onProgress) onProgress(done, blob.size);
  }
  return { md5: md5.digest("hex"), sha256: sha256.digest("hex") };
}

/** SHA-256 of `bytes` as hex through WebCrypto, or null where it is not available. */
function nativeSha256(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  return subtle.digest("SHA-256", bytes).then((digest) => {
    let hex = "";
    for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
    return hex;
  });
}
