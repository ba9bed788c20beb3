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
    const [md5, sha256] = await Promise.all([createMD5(), createSHA256()]);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    md5.init();
    sha256.init();
    md5.update(bytes);
    sha256.update(bytes);
    if (onProgress) onProgress(bytes.byteLength, blob.size);
    return { md5: md5.digest("hex"), sha256: sha256.digest("hex") };
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
