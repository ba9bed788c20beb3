// Test harness Worker for hashing/js/video.js (tests/browser/test_js_video.py): hashes one
// file per message with hashVideo and posts back everything the tests compare.
import { hashVideo, hashVideoFile } from "./js/video.js";

self.addEventListener("message", async (event) => {
  const { id, file, options = {}, recordOnly = false } = event.data;
  const controller = new AbortController();
  const progress = [];
  try {
    // abortOnFrames: cancel as soon as decoding reports progress (the cancellation test).
    const onProgress = (p) => {
      progress.push(p);
      if (options.abortOnFrames && p.stage === "frames") controller.abort();
    };
    const opts = { ...options, signal: controller.signal, onProgress };
    const result = recordOnly ? { record: await hashVideoFile(file, opts) } : await hashVideo(file, opts);
    self.postMessage({ id, ok: true, result, progress: progress.slice(-3), progressCount: progress.length });
  } catch (err) {
    self.postMessage({ id, ok: false, code: typeof err.code === "string" ? err.code : err.name, message: String(err.message), fallback: err.fallback || null });
  }
});
