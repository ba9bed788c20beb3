// Page-side helper: hash files in a module Worker so the page stays responsive.
//
//   import { WorkerHasher } from "/static/hashing/client.js";
//   const hasher = new WorkerHasher();
//   const record = await hasher.hash(file, (p) => console.log(p.stage, p.done, p.total));
//
// Errors reject with an Error whose `code` is the worker's ("unreadable", "too-large",
// "unsupported", "internal") and whose message can be shown to the person as it is.
//
// For a selection of many files, WorkerPool hashes several at once, one file per Worker
// (same API: pool.hash(file, onProgress)); see defaultPoolSize for how many.

export class WorkerHasher {
  constructor(workerUrl = new URL("./worker.js", import.meta.url)) {
    this.worker = new Worker(workerUrl, { type: "module" });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.addEventListener("message", (event) => this.#onMessage(event.data));
    this.worker.addEventListener("error", (event) => this.#failAll(event.message || "The hashing worker failed to start."));
  }

  #onMessage(data) {
    const job = this.pending.get(data.id);
    if (!job) return;
    if (data.type === "progress") {
      if (job.onProgress) job.onProgress({ stage: data.stage, done: data.done, total: data.total });
      return;
    }
    this.pending.delete(data.id);
    if (data.type === "result") job.resolve(data.result);
    else job.reject(Object.assign(new Error(data.message), { code: data.code }));
  }

  #failAll(message) {
    for (const job of this.pending.values()) job.reject(Object.assign(new Error(message), { code: "internal" }));
    this.pending.clear();
  }

  /** Hash one File/Blob; resolves to the same record as hashFile(). */
  hash(file, onProgress) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, file });
    });
  }

  terminate() {
    this.#failAll("Hashing was cancelled.");
    this.worker.terminate();
  }
}

// A 12 MP photo needs 100-150 MB while it is hashed (the decoded bitmap, its RGBA copy in
// WebAssembly memory, the stored pixels too if it is EXIF-rotated, and the file's bytes for
// the digests), so each Worker is given about half a gigabyte of the
// device's memory (navigator.deviceMemory, which Chromium reports in GB, capped at 8).
const MEMORY_GB_PER_WORKER = 0.5;
const MAX_WORKERS = 4;

/** How many Workers a selection gets: one per core, at most 4, within the memory budget. */
export function defaultPoolSize({
  cores = globalThis.navigator?.hardwareConcurrency,
  memoryGb = globalThis.navigator?.deviceMemory,
} = {}) {
  const byCores = Math.max(1, Math.floor(cores || 2));
  const byMemory = memoryGb ? Math.max(1, Math.floor(memoryGb / MEMORY_GB_PER_WORKER)) : MAX_WORKERS;
  return Math.min(MAX_WORKERS, byCores, byMemory);
}

/**
 * Hash files with up to `size` Workers at once, in the order given. Workers start only
 * when there is work for them, and each holds one file at a time, so memory is bounded
 * by the pool size whatever the selection's length.
 */
export class WorkerPool {
  constructor(workerUrl = new URL("./worker.js", import.meta.url), { size = defaultPoolSize() } = {}) {
    this.workerUrl = workerUrl;
    this.size = Math.max(1, size);
    this.slots = []; // {hasher, busy}
    this.queue = [];
  }

  /** Hash one File/Blob when a Worker is free; resolves to the same record as hashFile(). */
  hash(file, onProgress) {
    return new Promise((resolve, reject) => {
      this.queue.push({ file, onProgress, resolve, reject });
      this.#pump();
    });
  }

  #pump() {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) {
        slot = { hasher: new WorkerHasher(this.workerUrl), busy: false };
        this.slots.push(slot);
      }
      if (!slot) return;
      const job = this.queue.shift();
      slot.busy = true;
      slot.hasher
        .hash(job.file, job.onProgress)
        .then(job.resolve, job.reject)
        .finally(() => {
          slot.busy = false;
          this.#pump();
        });
    }
  }

  terminate() {
    for (const job of this.queue.splice(0)) {
      job.reject(Object.assign(new Error("Hashing was cancelled."), { code: "internal" }));
    }
    for (const slot of this.slots.splice(0)) slot.hasher.terminate();
  }
}
