// Helpers without side effects, shared by portal.js and submit.js.

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
  if (value("secret-expiry")) lines.push(`${strings.expiry_label || "Hashes shared until"}: ${value("secret-expiry")}`);
  const statusUrl = document.getElementById("status-link")?.dataset.statusUrl;
  if (statusUrl) lines.push(`${strings.status_label || "Check or withdraw your case at"}: ${statusUrl}`);
  // Which file is which label on the case page (names known on this device only).
  const files = [...document.querySelectorAll("#created-files li")].map((li) => li.textContent.trim());
  if (files.length) lines.push("", `${strings.files_label || "Files and their labels on your case page"}:`, ...files);
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
