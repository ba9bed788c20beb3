// Behaviour shared by every portal page: quick exit, and the copy/print/save
// buttons beside a case number and PIN. No third-party code, no inline script.
// Loaded once per page by base.html; other modules import ./strings.js, which
// has no side effects (with hashed static names a module can load twice).

import { readStrings, secretsText } from "./strings.js";

/** Leave for a neutral site at once, replacing this page in the tab's history. */
function quickExit(event) {
  const link = event.currentTarget;
  event.preventDefault();
  // replace(), not assign(): the Back button then can't return to this site.
  window.location.replace(link.dataset.exitUrl || link.href);
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
    // The file is made here, on the device: nothing is fetched from the server.
    const url = URL.createObjectURL(new Blob([secretsText()], { type: "text/plain" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = "takeback-case.txt";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

function init() {
  document.getElementById("quick-exit")?.addEventListener("click", quickExit);
  for (const node of document.querySelectorAll("[data-js-only]")) node.hidden = false;
  for (const button of document.querySelectorAll(".secret-actions [data-action]")) {
    button.addEventListener("click", secretAction);
  }
}

init();
