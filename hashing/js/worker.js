// Module Web Worker that hashes one file per message, off the page's main thread.
//
// Request:  {id, file}                  (a File or Blob; it is read here, never sent anywhere)
// Replies:  {id, type: "progress", stage, done, total}
//           {id, type: "result", result}
//           {id, type: "error", code, message}   (code: "unreadable" | "too-large" | "unsupported" | "internal")

import { hashFile, warmUp } from "./hashing.js";

// Get the decoder, the digests and the hashing code loaded and optimised while the person
// is still choosing a file. Only a speed-up: hashing works without it.
warmUp().catch(() => {});

self.addEventListener("message", async (event) => {
  const { id, file } = event.data || {};
  if (!(file instanceof Blob)) {
    self.postMessage({ id, type: "error", code: "internal", message: "No file was given to hash." });
    return;
  }
  try {
    const result = await hashFile(file, {
      onProgress: ({ stage, done, total }) => self.postMessage({ id, type: "progress", stage, done, total }),
    });
    self.postMessage({ id, type: "result", result });
  } catch (err) {
    const code = err && err.code ? err.code : "internal";
    const message = err && err.code ? err.message : `Hashing failed: ${err && err.message ? err.message : err}`;
    self.postMessage({ id, type: "error", code, message });
  }
});
