// Module Web Worker that hashes one video (hashVideoFile), off the page's main thread.
//
// Request:  {file}   (a File or Blob; it is read here, never sent anywhere)
// Replies:  {type: "progress", stage, done, total}   ("digest": bytes; "frames": frames decoded of total)
//           {type: "result", result}                 (the record `python -m hashing clip.mp4` prints)
//           {type: "error", code, message, fallback} (code: "unsupported" | "unreadable" | "too-large" | "internal";
//                                                     fallback "element": the page may try hashVideoWithElement)
//
// One Worker a video: the page cancels by terminating it, which also ends the frame
// hashing Worker video.js starts and frees the decoder at once (an AbortSignal would stop
// the decoding but not a digest read already under way). Memory stays flat whatever the
// file's size: the digests stream it and the demuxer reads it in slices.

import { hashVideoFile } from "./video.js";

// A report a tenth of a second at most: a long video decodes thousands of frames.
const PROGRESS_EVERY_MS = 100;

self.addEventListener("message", async (event) => {
  const { file } = event.data || {};
  if (!(file instanceof Blob)) {
    self.postMessage({ type: "error", code: "internal", message: "No file was given to hash." });
    return;
  }
  let last = 0;
  const onProgress = ({ stage, done, total }) => {
    const now = performance.now();
    if (stage === "frames" && done < total && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    self.postMessage({ type: "progress", stage, done, total });
  };
  try {
    self.postMessage({ type: "result", result: await hashVideoFile(file, { onProgress }) });
  } catch (err) {
    const code = err && typeof err.code === "string" ? err.code : "internal";
    const message = err && err.message ? String(err.message) : "Hashing failed.";
    self.postMessage({ type: "error", code, message, fallback: (err && err.fallback) || null });
  }
});
