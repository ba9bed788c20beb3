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
