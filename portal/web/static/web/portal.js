// Behaviour shared by every portal page: quick exit, and the copy/print/save
// buttons beside a case number and PIN. No third-party code, no inline script.

/** Leave for a neutral site at once, replacing this page in the tab's history. */
function quickExit(event) {
  const link = event.currentTarget;
  event.preventDefault();
  // replace(), not assign(): the Back button then can't return to this site.
  window.location.replace(link.dataset.exitUrl || link.href);
}

/** The secrets as plain text lines, for copying and for the saved file. */
export function secretsText() {
  const strings = readStrings();
  const value = (id) => (document.getElementById(id)?.textContent || "").trim();
  const lines = [
    strings.file_label || "Takeback case",
    `${strings.number_label || "Case number"}: ${value("secret-number")}`,
    `${strings.pin_label || "PIN"}: ${value("secret-pin")}`,
  ];
  if (value("secret-recovery")) lines.push(`${strings.recovery_label || "Recovery code"}: ${value("secret-recovery")}`);
  lines.push(`${strings.expiry_label || "Hashes shared until"}: ${value("secret-expiry")}`);
  const statusUrl = document.getElementById("status-link")?.dataset.statusUrl;
  if (statusUrl) lines.push(`${strings.status_label || "Check or withdraw your case at"}: ${statusUrl}`);
  return lines.join("\n") + "\n";
}

export function readStrings() {
  const node = document.getElementById("submit-strings");
  try {
    return node ? JSON.parse(node.textContent) : {};
  } catch {
    return {};
  }
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
