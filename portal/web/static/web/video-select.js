// Videos in the hashing page's selection (issue 11): each video is hashed on this device
// with hashing/js's hashVideoFile (MD5 and SHA-256 streamed, vPDQ frames) in a Worker of
// its own, one video at a time, with progress as "frame N of M" and a cancel.
//
// submit.js owns the selection; for a video entry it calls `videos.hash(entry)` and
// `entry.cancel()` when the person cancels or removes it. Where this browser can't decode
// the codec (HEVC in Debian's Chromium), a <video> element is tried on this page thread
// (hashVideoWithElement); if that can't play it either, the file is offered to the server
// with its own consent, inside the same submission, as a HEIC photo is.
//
// Privacy: the file is read by the Worker (or the <video> element) on this device; what
// becomes of it is the record's hashes only: media kind, MD5, SHA-256 and the frames'
// {frame, timestamp, pdq, quality}. Its name stays on this page.

let mediaKind = null;

/** Whether hashing/js treats this file as a video (by its type, else its extension). */
export async function isVideo(file) {
  mediaKind ||= (await import("../hashing/hashing.js")).mediaKind;
  return mediaKind(file) === "video";
}

/** What is sent for a hashed video: its media kind, digests and kept vPDQ frames. */
export function videoItem(record) {
  return { media_kind: "video", hashes: { md5: record.md5, sha256: record.sha256 }, vpdq: record.vpdq };
}

// How much of the bar reading the file (the digests) and decoding the frames stand for:
// they run together, and decoding is the longer part.
const DIGEST_SHARE = 0.2;

export class VideoHashing {
  /**
   * @param {object} options
   * @param {URL} options.workerUrl  hashing/js/video-worker.js
   * @param {(key: string, values?: object) => string} options.t  the page's strings
   * @param {object} options.ui  submit.js's setStatus, markReady, addServerOne, refresh
   */
  constructor({ workerUrl, t, ui }) {
    this.workerUrl = workerUrl;
    this.t = t;
    this.ui = ui;
    this.queue = Promise.resolve(); // one video at a time: each holds a decoder
  }

  /** Hash one video entry of the selection; resolves when it is ready, failed or cancelled. */
  hash(entry) {
    const turn = this.queue.then(() => this.#hashNow(entry));
    this.queue = turn.catch(() => {});
    return turn;
  }

  async #hashNow(entry) {
    if (entry.removed) return;
    const { t, ui } = this;
    const progress = entry.element.querySelector("progress");
    const cancel = entry.element.querySelector(".file-remove");
    const shown = { digest: 0, frames: 0 };
    const report = ({ stage, done, total }) => {
      if (entry.removed || !total) return;
      if (entry.state === "waiting") entry.state = "hashing";
      if (stage === "digest" || stage === "frames") shown[stage] = Math.min(1, done / total);
      progress.value = Math.round(100 * (DIGEST_SHARE * shown.digest + (1 - DIGEST_SHARE) * shown.frames));
      if (stage === "frames") ui.setStatus(entry, t("video_frames", { done, total }));
      else if (stage === "digest" && !shown.frames) ui.setStatus(entry, t("video_reading"));
    };
    // While it is hashed, the file's Remove button cancels the hashing.
    cancel.textContent = t("cancel");
    cancel.setAttribute("aria-label", t("cancel_named", { name: entry.name }));
    let keepFile = false;
    try {
      let record;
      try {
        record = await this.#inWorker(entry, report);
      } catch (err) {
        if (err.code !== "unsupported" || err.fallback !== "element" || entry.removed) throw err;
        record = await this.#withElement(entry, report);
      }
      if (entry.removed) return;
      progress.value = 100;
      ui.markReady(entry, videoItem(record), t("video_ready", { n: record.vpdq.length }));
    } catch (err) {
      if (entry.removed) return;
      entry.state = "failed";
      progress.hidden = true;
      keepFile = this.#failed(entry, err);
    } finally {
      cancel.textContent = t("remove");
      cancel.setAttribute("aria-label", t("remove_named", { name: entry.name }));
      entry.cancel = null;
      if (!keepFile) entry.file = null;
      ui.refresh();
    }
  }

  /** Tell what went wrong; offer the server where it can help. Returns whether to keep the file. */
  #failed(entry, err) {
    const { t, ui } = this;
    const serverMax = Number(t("server_max_bytes"));
    if (err.code === "unsupported") {
      if (entry.file.size <= serverMax && ui.canHashOnServer) {
        // A warning, not an error: the server path is one tick away (same submission).
        ui.setStatus(entry, t("video_unsupported"), "is-warning");
        ui.addServerOne(entry);
        return true;
      }
      ui.setStatus(entry, `${t("video_unsupported")} ${t("video_server_too_large")}`, "is-error");
    } else if (err.code === "too-large") {
      ui.setStatus(entry, t("video_too_large", { hours: t("video_max_hours"), gb: t("video_max_gb") }), "is-error");
    } else if (err.code === "unreadable") {
      ui.setStatus(entry, t("video_unreadable"), "is-error");
    } else {
      ui.setStatus(entry, t("failed"), "is-error");
    }
    return false;
  }

  #inWorker(entry, report) {
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.workerUrl, { type: "module" });
      const stop = () => worker.terminate();
      entry.cancel = () => {
        stop();
        reject(Object.assign(new Error("cancelled"), { code: "cancelled" }));
      };
      worker.addEventListener("message", ({ data }) => {
        if (data.type === "progress") return report(data);
        stop();
        if (data.type === "result") resolve(data.result);
        else reject(Object.assign(new Error(data.message), { code: data.code, fallback: data.fallback }));
      });
      worker.addEventListener("error", () => {
        stop();
        reject(Object.assign(new Error("The hashing worker failed."), { code: "internal" }));
      });
      worker.postMessage({ file: entry.file });
    });
  }

  async #withElement(entry, report) {
    this.ui.setStatus(entry, this.t("video_element"));
    const controller = new AbortController();
    entry.cancel = () => controller.abort();
    const { hashVideoWithElement } = await import("../hashing/video.js");
    return hashVideoWithElement(entry.file, { onProgress: report, signal: controller.signal });
  }
}
