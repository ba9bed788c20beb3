// The hashing page: choose files, hash them in a pool of Web Workers with hashing/js,
// review, then send only the hashes in one JSON request.
//
// Privacy: files are read by the workers on this device. The request body is
// built from the hash records alone (media kind, hex hashes, PDQ quality);
// file names, sizes, dates and EXIF are never put in it. Previews use local
// object URLs, revoked as soon as the preview has been drawn, and are blurred
// until the person asks to see them. The one exception, a photo this browser
// can't open (HEIC), is sent to the server only after its own consent box is
// ticked; only its hashes come back, into the same submission.

import { WorkerPool } from "../hashing/client.js";
import { readStrings } from "./strings.js";
import { VideoHashing, isVideo } from "./video-select.js";

const form = document.getElementById("hash-form");
const strings = readStrings();
const t = (key, values = {}) =>
  (strings[key] || key).replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
const QUALITY_FLOOR = Number(strings.quality_floor || 50);
const MAX_FILES = Number(strings.max_files || 100);

const entries = []; // {id, file, element, state: "waiting"|"hashing"|"ready"|"failed", item, label, name}
let nextId = 1;
let pool = null;
let previewsShown = false;

const list = document.getElementById("file-list");
const summary = document.getElementById("files-summary");
const review = document.getElementById("review");
const preview = document.getElementById("payload-preview");
const submitButton = document.getElementById("submit-button");
const errorBox = document.getElementById("submit-error");
const input = document.getElementById("files");
const dropzone = document.getElementById("dropzone");
const previewsRow = document.getElementById("previews-row");
const previewsButton = document.getElementById("toggle-previews");

function getPool() {
  pool ||= new WorkerPool(new URL(form.dataset.worker, window.location.href));
  return pool;
}

/** The label the case page shows for a file: the start of its SHA-256 (as selectors.item_label). */
function labelOf(hashes) {
  return (hashes.sha256 || hashes.md5 || "").slice(0, 8);
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

function readyEntries() {
  return entries.filter((e) => e.state === "ready");
}

function payload() {
  const body = { items: readyEntries().map((e) => e.item) };
  if (form.dataset.mode === "new") {
    body.recovery_code = Boolean(document.getElementById("want-recovery")?.checked);
    const organisation = document.getElementById("organisation");
    if (organisation && organisation.value) body.organisation = organisation.value;
  }
  return body;
}

function refresh() {
  if (!form.isConnected) return; // the page was blanked by a quick exit
  const ready = readyEntries().length;
  const busy = entries.some((e) => e.state === "waiting" || e.state === "hashing");
  document.getElementById("files-empty").hidden = entries.length > 0;
  const clear = document.getElementById("clear-files");
  if (clear) clear.hidden = entries.length === 0;
  previewsRow.hidden = !list.querySelector("img.thumb");
  const failed = entries.filter((e) => e.state === "failed").length;
  summary.textContent = entries.length ? t("count", { ready, total: entries.length }) : "";
  // Announced by the live region, so a screen reader hears about refused files too.
  if (failed) summary.textContent += ` ${t("failed_count", { n: failed })}`;
  review.hidden = ready === 0;
  submitButton.disabled = busy || ready === 0;
  submitButton.textContent = t(ready === 1 ? "submit_one" : "submit", { n: ready });
  preview.textContent = JSON.stringify(payload(), null, 2);
  // Tells tests (and anything waiting) that the handlers are in place.
  form.dataset.ready = "true";
}

function setStatus(entry, text, kind = "") {
  const status = entry.element.querySelector(".file-status");
  status.textContent = text;
  status.className = `file-status ${kind}`;
}

function setLabel(entry) {
  const tag = entry.element.querySelector(".file-tag");
  tag.replaceChildren(`${t("label")} `);
  const code = document.createElement("code");
  code.className = "file-label";
  code.textContent = entry.label;
  tag.append(code);
  tag.hidden = false;
}

function markReady(entry, item, text, kind = "is-ok") {
  entry.item = item;
  entry.label = labelOf(item.hashes);
  entry.state = "ready";
  setLabel(entry);
  setStatus(entry, text, kind);
}

function addServerOption(entry) {
  const link = document.createElement("a");
  link.href = form.dataset.serverUrl;
  link.textContent = t("server_option");
  const p = document.createElement("p");
  p.append(link);
  entry.element.querySelector(".file-body").append(p);
}

/** This one file, with its own consent, hashed on the server into the same submission. */
function addServerOne(entry) {
  const box = document.createElement("div");
  box.className = "server-one";
  const check = document.createElement("div");
  check.className = "field field-check";
  const consent = document.createElement("input");
  consent.type = "checkbox";
  consent.id = `server-one-${entry.id}`;
  const label = document.createElement("label");
  label.htmlFor = consent.id;
  label.textContent = t("server_one_consent");
  check.append(consent, label);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button-small";
  // The file's name in the visible text too, so the accessible name contains it (axe).
  button.textContent = t("server_one_named", { name: entry.name });
  button.disabled = true;
  consent.addEventListener("change", () => {
    button.disabled = !consent.checked;
  });
  button.addEventListener("click", async () => {
    if (!consent.checked || !entry.file) return;
    button.disabled = true;
    consent.disabled = true;
    setStatus(entry, t("server_one_sending"));
    const body = new FormData();
    body.append("file", entry.file);
    body.append("consent", "on");
    let data = {};
    let ok = false;
    try {
      const response = await fetch(form.dataset.hashOneUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body,
      });
      data = await response.json().catch(() => ({}));
      ok = response.ok && data.item;
    } catch {
      data = { error: t("network") };
    }
    if (entry.removed) return;
    if (ok) {
      entry.file = null;
      box.remove();
      entry.element.querySelector(".server-fallback")?.remove();
      markReady(entry, data.item, t("server_ready"));
    } else {
      setStatus(entry, data.error || t("failed"), "is-error");
      button.disabled = false;
      consent.disabled = false;
    }
    refresh();
  });
  box.append(check, button);
  entry.element.querySelector(".file-body").append(box);
}

function removeEntry(entry) {
  if (entry.cancel) entry.cancel(); // a video being hashed: stop its Worker
  const index = entries.indexOf(entry);
  if (index >= 0) entries.splice(index, 1);
  entry.removed = true;
  entry.file = null;
  entry.element.remove();
  refresh();
  input.focus();
}

function renderEntry(entry) {
  const li = document.createElement("li");
  li.className = "file";
  if ((entry.file.type || "").startsWith("image/")) {
    const img = document.createElement("img");
    img.className = previewsShown ? "thumb" : "thumb is-blurred";
    img.alt = t("preview", { name: entry.name });
    const url = URL.createObjectURL(entry.file);
    const revoke = () => URL.revokeObjectURL(url);
    img.addEventListener("load", revoke, { once: true });
    img.addEventListener("error", () => { revoke(); img.remove(); refresh(); }, { once: true });
    img.src = url;
    li.append(img);
  }
  const body = document.createElement("div");
  body.className = "file-body";
  const title = document.createElement("p");
  title.className = "file-name";
  title.textContent = entry.name; // shown here only; never sent
  const tag = document.createElement("span");
  tag.className = "file-tag";
  tag.hidden = true;
  title.append(" ", tag);
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", t("progress", { name: entry.name }));
  const status = document.createElement("p");
  status.className = "file-status";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button button-small file-remove";
  remove.textContent = t("remove");
  remove.setAttribute("aria-label", t("remove_named", { name: entry.name }));
  remove.addEventListener("click", () => removeEntry(entry));
  body.append(title, progress, status, remove);
  li.append(body);
  list.append(li);
  entry.element = li;
  setStatus(entry, t("waiting"));
}

const ERROR_KEYS = { unreadable: "unreadable", "too-large": "too_large", unsupported: "unsupported" };

// How far each stage takes the bar. The digests read the file while the browser
// decodes it; the fingerprint itself is the last step.
function progressOf({ stage, done, total }) {
  if (stage === "digest" && total) return 5 + Math.round((55 * done) / total);
  if (stage === "decode") return 5;
  if (stage === "hash") return 65;
  if (stage === "done") return 95;
  return 0;
}

// Videos: their own Worker each, one at a time, with a cancel (video-select.js).
const videos = new VideoHashing({
  workerUrl: new URL(form.dataset.videoWorker, window.location.href),
  t,
  ui: { setStatus, markReady, addServerOne, refresh, canHashOnServer: Boolean(form.dataset.hashOneUrl) },
});

async function hashEntry(entry) {
  if (entry.removed) return;
  if (await isVideo(entry.file)) return videos.hash(entry);
  const progress = entry.element.querySelector("progress");
  let keepFile = false;
  try {
    // Waits in the pool's queue until a Worker is free; the first progress report starts it.
    const record = await getPool().hash(entry.file, (p) => {
      if (entry.removed) return;
      if (entry.state === "waiting") {
        entry.state = "hashing";
        setStatus(entry, t("reading"));
      }
      progress.value = Math.max(progress.value, progressOf(p));
      if (p.stage === "hash") setStatus(entry, t("hashing"));
    });
    if (entry.removed) return;
    if (record.media !== "image" && record.media !== "video") {
      entry.state = "failed";
      progress.hidden = true;
      setStatus(entry, t("not_media"), "is-error");
    } else {
      progress.value = 100;
      const { item, lowQuality } = itemFromRecord(record);
      if (lowQuality) markReady(entry, item, t("low_quality", { quality: record.pdq_quality, floor: QUALITY_FLOOR }), "is-warning");
      else markReady(entry, item, t(record.media === "video" ? "video" : "ready"));
    }
  } catch (err) {
    if (entry.removed) return;
    entry.state = "failed";
    progress.hidden = true;
    const offerServer = err.code === "unsupported" && form.dataset.hashOneUrl;
    // A photo the server can hash is not a dead end: a warning, not an error.
    setStatus(entry, t(ERROR_KEYS[err.code] || "failed"), offerServer ? "is-warning" : "is-error");
    if (offerServer) {
      // Kept on the page (never sent) until the person chooses to send this one file.
      keepFile = true;
      addServerOne(entry);
    } else if (err.code === "unreadable") {
      addServerOption(entry);
    }
  } finally {
    // The File object is no longer needed once hashed.
    if (!keepFile) entry.file = null;
    refresh();
  }
}

function addFiles(files) {
  errorBox.textContent = "";
  const room = Math.max(0, MAX_FILES - entries.length);
  if (files.length > room) {
    // Told now, before any hashing, rather than refused by the server afterwards.
    errorBox.textContent = t("too_many", { n: MAX_FILES, extra: files.length - room });
  }
  for (const file of files.slice(0, room)) {
    const entry = { id: nextId++, file, name: file.name || `#${nextId - 1}`, state: "waiting", item: null, removed: false };
    entries.push(entry);
    renderEntry(entry);
    hashEntry(entry);
  }
  refresh();
}

function csrfToken() {
  return form.querySelector("input[name=csrfmiddlewaretoken]").value;
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

previewsButton.addEventListener("click", () => {
  previewsShown = !previewsShown;
  previewsButton.setAttribute("aria-pressed", String(previewsShown));
  previewsButton.textContent = t(previewsShown ? "hide_previews" : "show_previews");
  for (const img of list.querySelectorAll("img.thumb")) img.classList.toggle("is-blurred", !previewsShown);
});

document.getElementById("want-recovery")?.addEventListener("change", refresh);
document.getElementById("organisation")?.addEventListener("change", refresh);

/** Forget the selection: on quick exit, and once it has been sent. */
function forgetSelection() {
  for (const entry of entries) {
    if (entry.cancel) entry.cancel();
    entry.removed = true;
    entry.file = null;
  }
  entries.length = 0;
  list.replaceChildren();
  if (pool) pool.terminate();
  pool = null;
}
document.addEventListener("takeback:exit", forgetSelection);
// Stop every file's hashing and empty the selection.
document.getElementById("clear-files")?.addEventListener("click", () => {
  forgetSelection();
  refresh();
  input.focus();
});

function showCreated(data, files) {
  const section = document.getElementById("created");
  document.getElementById("secret-number").textContent = data.case_number;
  document.getElementById("secret-pin").textContent = data.pin;
  document.getElementById("secret-expiry").textContent = data.expires_on;
  if (data.recovery_code) {
    document.getElementById("secret-recovery").textContent = data.recovery_code;
    document.getElementById("secret-recovery-row").hidden = false;
  }
  // Which name is which label on the case page: built here, from this page's memory.
  const rows = files.map(({ name, label, frames }) => {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.className = "file-label";
    code.textContent = label;
    li.append(`${name}: `, code);
    if (frames !== undefined) li.append(` (${t("created_video", { n: frames })})`);
    return li;
  });
  document.getElementById("created-files").replaceChildren(...rows);
  document.getElementById("created-files-wrap").hidden = rows.length === 0;
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
  let response;
  let data = {};
  try {
    response = await fetch(form.dataset.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(payload()),
    });
    data = await response.json().catch(() => ({}));
  } catch {
    errorBox.textContent = t("network");
    refresh();
    return;
  }
  if (!response.ok) {
    // 413: over the request limit, before any view reads it (many long videos at once).
    errorBox.textContent = data.error || t(response.status === 413 ? "body_too_large" : "network");
    refresh();
    return;
  }
  const files = readyEntries().map(({ name, label, item }) => ({ name, label, frames: item.vpdq?.length }));
  // Done with the files: forget them and their hashes on the page.
  forgetSelection();
  if (form.dataset.mode === "add") {
    window.location.assign(data.status_url);
  } else {
    showCreated(data, files);
  }
});

refresh();
