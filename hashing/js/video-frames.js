// Helper Worker of video.js: converts and PDQ-hashes the sampled frames it is sent, while
// video.js keeps the decoder fed on its own thread (started by video.js itself, from the
// Worker that hashes the video; pages never start it).
//
// Request: {id, job}  job: {kind: "planes", format, data, layout, width, height, fullRange}
//                         | {kind: "rgba", data, width, height}   (data transferred)
// Reply:   {id, pdq, quality} or {id, error}

import { hashCopiedFrame } from "./video-pixels.js";

self.addEventListener("message", (event) => {
  const { id, job } = event.data;
  try {
    const { pdq, quality } = hashCopiedFrame(job);
    self.postMessage({ id, pdq, quality });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
});
