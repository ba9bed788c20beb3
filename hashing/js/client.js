// Page-side helper: hash files in a module Worker so the page stays responsive.
//
//   import { WorkerHasher } from "/static/hashing/client.js";
//   const hasher = new WorkerHasher();
//   const record = await hasher.hash(file, (p) => console.log(p.stage, p.done, p.total));
//
// Errors reject with an Error whose `code` is the worker's ("unreadable", "too-large",
// "unsupported", "internal") and whose message can be shown to the person as it is.

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
