// Behaviour shared by every portal page: quick exit, the error summary, answers
// that reveal help at once, and the copy/print/save buttons beside a case
// number and PIN (with a question before leaving them unsaved). No third-party
// code, no inline script. Loaded once per page by base.html; other modules
// import ./strings.js, which has no side effects (with hashed static names a
// module can load twice).

import { readStrings, secretsText } from "./strings.js";

let exiting = false;

/**
 * Leave at once. The page is blanked first, so nothing lingers on screen; pages
 * listening for "takeback:exit" drop what they hold (the hashing page forgets the
 * chosen files). /exit/ ends the session on the server (the case, the answers, any
 * secrets); then the tab goes to a neutral site with replace(), not assign(), so
 * Back can't return to this page. Without JavaScript the link itself is /exit/,
 * which redirects to the same neutral site.
 */
async function quickExit(event) {
  if (event) event.preventDefault();
  if (exiting) return;
  exiting = true;
  const link = document.getElementById("quick-exit");
  document.dispatchEvent(new CustomEvent("takeback:exit"));
  document.title = "";
  document.body.replaceChildren();
  const exitUrl = link?.href || "/exit/";
  const neutral = link?.dataset.neutralUrl || exitUrl;
  // Wait for the session to end (at most a second), so Back finds no open case.
  const ended = fetch(exitUrl, { credentials: "same-origin", redirect: "manual", keepalive: true }).catch(() => {});
  await Promise.race([ended, new Promise((done) => setTimeout(done, 1000))]);
  window.location.replace(neutral);
}

// Esc, or Shift pressed three times within two seconds (as GOV.UK's "Exit this page").
let shiftPresses = [];
function exitKeys(event) {
  if (event.key === "Escape" && !event.repeat) {
    // Esc first closes an open header menu (data-menu: the language menu), as a person
    // expects of a menu, and returns focus to its button; the next Esc is the quick exit.
    const menu = document.querySelector("details[data-menu][open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
      return;
    }
    quickExit(event);
    return;
  }
  if (event.key !== "Shift" || event.repeat) {
    shiftPresses = [];
    return;
  }
  const now = event.timeStamp;
  shiftPresses = [...shiftPresses.filter((t) => now - t < 2000), now];
  if (shiftPresses.length >= 3) quickExit(event);
}

async function secretAction(event) {
  const action = event.currentTarget.dataset.action;
  const status = document.getElementById("secret-action-status");
  const strings = readStrings();
  if (action === "print") {
    window.print();
  } else if (action === "copy") {
    try {
      await navigator.clipboard.writeText(secretsText());
      if (status) status.textContent = strings.copied || "Copied.";
    } catch {
      if (status) status.textContent = strings.copy_failed || "Copying didn't work here; please write them down.";
    }
  } else if (action === "save") {
    // The file is made here, on the device: nothing is fetched from the server. Its
    // name says nothing about this site, for a shared device's downloads folder.
    const url = URL.createObjectURL(new Blob([secretsText()], { type: "text/plain" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `notes-${new Date().toISOString().slice(0, 10)}.txt`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

/** Until "I have saved them" is ticked, leaving a page that shows the PIN asks first. */
function guardSecrets(event) {
  if (exiting) return;
  const section = document.getElementById("created");
  const saved = document.getElementById("saved-confirm");
  if (!section || section.hidden || !saved || saved.checked) return;
  event.preventDefault();
  event.returnValue = readStrings().leave_warning || "";
}

/** Fields that reveal help as soon as an answer is chosen: data-show-when="name=value". */
function revealers() {
  const targets = [...document.querySelectorAll("[data-show-when]")];
  const update = () => {
    for (const target of targets) {
      const [name, value] = target.dataset.showWhen.split("=");
      const chosen = document.querySelector(`input[name="${name}"]:checked`);
      target.hidden = !chosen || chosen.value !== value;
    }
  };
  for (const target of targets) {
    const [name] = target.dataset.showWhen.split("=");
    for (const input of document.querySelectorAll(`input[name="${name}"]`)) input.addEventListener("change", update);
  }
  update();
}

/** The error summary takes focus; its links move focus to the field they name. */
function errorSummary() {
  const summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.focus();
  for (const link of summary.querySelectorAll("a[href^='#']")) {
    link.addEventListener("click", (event) => {
      const field = document.getElementById(link.hash.slice(1));
      if (!field) return;
      event.preventDefault();
      (field.closest("fieldset")?.querySelector("legend") || field).scrollIntoView({ block: "start" });
      field.focus({ preventScroll: true });
    });
  }
}

function init() {
  document.getElementById("quick-exit")?.addEventListener("click", quickExit);
  document.addEventListener("keydown", exitKeys);
  window.addEventListener("beforeunload", guardSecrets);
  for (const node of document.querySelectorAll("[data-js-only]")) node.hidden = false;
  for (const button of document.querySelectorAll(".secret-actions [data-action]")) {
    button.addEventListener("click", secretAction);
  }
  revealers();
  errorSummary();
}

init();
