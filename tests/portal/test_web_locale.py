"""The committed Spanish catalogue: the compiled .mo matches the .po, and covers every string."""

import ast
import gettext
import re
from pathlib import Path

from tests.support.services import ROOT

LOCALE = ROOT / "portal" / "locale" / "es" / "LC_MESSAGES"


def _po_entries(path: Path) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstrs, fuzzy) for each entry of a .po file (header skipped)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r"^(msgid|msgid_plural|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                current = match.group(1)
                fields[current] = [ast.literal_eval(match.group(2))]
            elif line.startswith('"') and current:
                fields[current].append(ast.literal_eval(line))
        if "msgid" not in fields or not "".join(fields["msgid"]):
            continue
        msgstrs = ["".join(v) for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        entries.append(("".join(fields["msgid"]), msgstrs, "fuzzy" in block.split("msgid")[0]))
    return entries


def test_compiled_catalogue_matches_the_source_and_every_string_is_translated():
    entries = _po_entries(LOCALE / "django.po")
    assert len(entries) > 150
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstrs, fuzzy in entries:
        assert not fuzzy, msgid
        assert all(msgstrs), f"untranslated: {msgid}"
        if len(msgstrs) == 1:
            assert compiled.gettext(msgid) == msgstrs[0], f"recompile the .mo: {msgid}"
