// The hashing page: choose files, hash each in a Web Worker with hashing/js,
// review, then send only the hashes in one JSON request.
//
// Privacy: files are read by the worker on this device. The request body is
// built from the hash records alone (media kind, hex hashes, PDQ quality);
// file names, sizes, dates and EXIF are never put in it. Previews use local
// object URLs, revoked as soon as the preview has been drawn.

import { WorkerHasher } from "../hashing/client.js";
import { readStrings } from "./strings.js";

const form = document.getElementById("hash-form");
const strings = readStrings();
const t = (key, values = {}) =>
  (strings[key] || key).replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
const QUALITY_FLOOR = Number(strings.quality_floor || 50);

const entries = []; // {id, file, element, state: "waiting"|"hashing"|"ready"|"failed", item}
let nextId = 1;
let hasher = null;
let queue = Promise.resolve();

const list = document.getElementById("file-list");
const summary = document.getElementById("files-summary");
const review = document.getElementById("review");
const preview = document.getElementById("payload-preview");
const submitButton = document.getElementById("submit-button");
const errorBox = document.getElementById("submit-error");
const input = document.getElementById("files");
const dropzone = document.getElementById("dropzone");

function getHasher() {
  hasher ||= new WorkerHasher(new URL(form.dataset.worker, window.location.href));
  return hasher;
}

/** What is sent for one hashed file: only its media kind and hashes. */
function itemFromRecord(record) {
  if (record.media === "video") {
    return { item: { media_kind: "video", hashes: { md5: record.md5, sha256: record.sha256 } }, lowQuality: false };
  }
  if (record.pdq && record.pdq_quality >= QUALITY_FLOOR) {
    const { md5, sha256, pdq, phash, dhash } = record;
    return {
      item: { media_kind: "image", hashes: { pdq, phash, dhash, md5, sha256 }, pdq_quality: record.pdq_quality },
      lowQuality: false,
    };
  }
  // Too little detail for PDQ to match reliably: keep only the exact digests,
  // which still block exact copies (low-quality hashes are refused, not stored).
  return { item: { media_kind: "image", hashes: { md5: record.md5, sha256: record.sha256 } }, lowQuality: true };
}

function payload() {
  const body = { items: entries.filter((e) => e.state === "ready").map((e) => e.item) };
  if (form.dataset.mode === "new") {
    body.recovery_code = Boolean(document.getElementById("want-recovery")?.checked);
    const organisation = document.getElementById("organisation");
    if (organisation && organisation.value) body.organisation = organisation.value;
  }
  return body;
}

function refresh() {
  const ready = entries.filter((e) => e.state === "ready").length;
  const busy = entries.some((e) => e.state === "waiting" || e.state === "hashing");
  document.getElementById("files-empty").hidden = entries.length > 0;
  const failed = entries.filter((e) => e.state === "failed").length;
  summary.textContent = entries.length ? t("count", { ready, total: entries.length }) : "";
  // Announced by the live region, so a screen reader hears about refused files too.
  if (failed) summary.textContent += ` ${t("failed_count", { n: failed })}`;
  review.hidden = ready === 0;
  submitButton.disabled = busy || ready === 0;
  submitButton.textContent = t(ready === 1 ? "submit_one" : "submit", { n: ready });
  preview.textContent = JSON.stringify(payload(), null, 2);
}

function setStatus(entry, text, kind = "") {
  const status = entry.element.querySelector(".file-status");
  status.textContent = text;
  status.className = `file-status ${kind}`;
}

function addServerOption(entry) {
  const link = document.createElement("a");
  link.href = form.dataset.serverUrl;
  link.textContent = t("server_option");
  const p = document.createElement("p");
  p.append(link);
  entry.element.querySelector(".file-body").append(p);
}

function removeEntry(entry) {
  const index = entries.indexOf(entry);
  if (index >= 0) entries.splice(index, 1);
  entry.removed = true;
  entry.file = null;
  entry.element.remove();
  refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
  input.focus();
}

function renderEntry(entry) {
  const li = document.createElement("li");
  li.className = "file";
  const name = entry.file.name || `#${entry.id}`;
  if ((entry.file.type || "").startsWith("image/")) {
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = t("preview", { name });
    const url = URL.createObjectURL(entry.file);
    const revoke = () => URL.revokeObjectURL(url);
    img.addEventListener("load", revoke, { once: true });
    img.addEventListener("error", () => { revoke(); img.remove(); }, { once: true });
    img.src = url;
    li.append(img);
  }
  const body = document.createElement("div");
  body.className = "file-body";
  const title = document.createElement("p");
  title.className = "file-name";
  title.textContent = name; // shown here only; never sent
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", t("progress", { name }));
  const status = document.createElement("p");
  status.className = "file-status";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button button-small";
  remove.textContent = t("remove");
  remove.setAttribute("aria-label", t("remove_named", { name }));
  remove.addEventListener("click", () => removeEntry(entry));
  body.append(title, progress, status, remove);
  li.append(body);
  list.append(li);
  entry.element = li;
  setStatus(entry, t("waiting"));
}

const ERROR_KEYS = { unreadable: "unreadable", "too-large": "too_large", unsupported: "unsupported" };

async function hashEntry(entry) {
  if (entry.removed) return;
  entry.state = "hashing";
  const progress = entry.element.querySelector("progress");
  setStatus(entry, t("reading"));
  try {
    const record = await getHasher().hash(entry.file, ({ stage, done, total }) => {
      if (stage === "digest" && total) progress.value = Math.min(80, Math.round((80 * done) / total));
      else if (stage === "hash") { progress.value = 90; setStatus(entry, t("hashing")); }
    });
    if (entry.removed) return;
    progress.value = 100;
    if (record.media !== "image" && record.media !== "video") {
      entry.state = "failed";
      setStatus(entry, t("not_media"), "is-error");
    } else {
      const { item, lowQuality } = itemFromRecord(record);
      entry.item = item;
      entry.state = "ready";
      if (lowQuality) setStatus(entry, t("low_quality", { quality: record.pdq_quality, floor: QUALITY_FLOOR }), "is-warning");
      else setStatus(entry, t(record.media === "video" ? "video" : "ready"), "is-ok");
    }
  } catch (err) {
    if (entry.removed) return;
    entry.state = "failed";
    progress.value = 0;
    setStatus(entry, t(ERROR_KEYS[err.code] || "failed"), "is-error");
    if (err.code === "unsupported" || err.code === "unreadable") addServerOption(entry);
  } finally {
    // The File object is no longer needed once hashed.
    entry.file = null;
    refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
  }
}

function addFiles(files) {
  errorBox.textContent = "";
  for (const file of files) {
    const entry = { id: nextId++, file, state: "waiting", item: null, removed: false };
    entries.push(entry);
    renderEntry(entry);
    // One file at a time: a phone has little memory for decoded photos.
    queue = queue.then(() => hashEntry(entry));
  }
  refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
}

input.addEventListener("change", () => {
  addFiles([...input.files]);
  input.value = "";
});

for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("is-dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, () => dropzone.classList.remove("is-dragging"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  if (event.dataTransfer?.files?.length) addFiles([...event.dataTransfer.files]);
});

document.getElementById("want-recovery")?.addEventListener("change", refresh);
document.getElementById("organisation")?.addEventListener("change", refresh);

function showCreated(data) {
  const section = document.getElementById("created");
  document.getElementById("secret-number").textContent = data.case_number;
  document.getElementById("secret-pin").textContent = data.pin;
  document.getElementById("secret-expiry").textContent = data.expires_on;
  if (data.recovery_code) {
    document.getElementById("secret-recovery").textContent = data.recovery_code;
    document.getElementById("secret-recovery-row").hidden = false;
  }
  document.getElementById("status-link").dataset.statusUrl = data.status_url;
  form.hidden = true;
  const heading = document.querySelector("h1");
  if (heading && strings.created_title) heading.textContent = strings.created_title;
  if (strings.created_title) document.title = `${strings.created_title} · Takeback`;
  for (const node of document.querySelectorAll(".lead, .hint-server")) node.hidden = true;
  section.hidden = false;
  section.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (submitButton.disabled) return;
  errorBox.textContent = "";
  submitButton.disabled = true;
  submitButton.textContent = t("sending");
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  let response;
  let data = {};
  try {
    response = await fetch(form.dataset.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
      body: JSON.stringify(payload()),
    });
    data = await response.json().catch(() => ({}));
  } catch {
    errorBox.textContent = t("network");
    refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
    return;
  }
  if (!response.ok) {
    errorBox.textContent = data.error || t("network");
    refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
    return;
  }
  // Done with the files: forget them and their hashes on the page.
  entries.length = 0;
  list.replaceChildren();
  if (hasher) hasher.terminate();
  hasher = null;
  if (form.dataset.mode === "add") {
    window.location.assign(data.status_url);
  } else {
    showCreated(data);
  }
});

refresh();
// Tells tests (and anything waiting) that the handlers are in place.
form.dataset.ready = "true";
