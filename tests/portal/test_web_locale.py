"""The committed translation catalogues (portal/locale/<code>/LC_MESSAGES/django.po and .mo).

Every language of settings.LANGUAGES but English has a catalogue; each committed .mo is
what msgfmt makes of its .po (so `make run` needs no gettext and serves what was
reviewed); placeholders and markup survive translation; plural entries have the forms
their language's Plural-Forms header asks for.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.services import ROOT, require_service

LOCALE_DIR = ROOT / "portal" / "locale"
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# %(name)s / %(n)d (Django templates and gettext), {name} (strings.py, formatted in the
# browser), <code> (the one tag a msgid carries) and a trailing backslash.
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}|</?code>|\\$")


@dataclass(frozen=True)
class Entry:
    msgid: str
    msgid_plural: str
    msgstrs: tuple[str, ...]
    fuzzy: bool


def po_entries(path: Path) -> tuple[dict[str, str], list[Entry]]:
    """The header fields and the entries of a .po file (obsolete #~ entries skipped)."""
    header: dict[str, str] = {}
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                current = match.group(1)
                fields[current] = [ast.literal_eval(match.group(2))]
            elif line.startswith('"') and current:
                fields[current].append(ast.literal_eval(line))
        if "msgid" not in fields:
            continue
        msgid = "".join(fields["msgid"])
        msgstrs = tuple("".join(v) for k, v in sorted(fields.items()) if k.startswith("msgstr"))
        if not msgid:
            header = dict(line.split(": ", 1) for line in msgstrs[0].splitlines() if ": " in line)
            continue
        comments = block.split("\nmsgid ")[0] if not block.startswith("msgid ") else ""
        entries.append(
            Entry(
                msgid=msgid,
                msgid_plural="".join(fields.get("msgid_plural", [])),
                msgstrs=msgstrs,
                fuzzy=bool(re.search(r"^#,.*\bfuzzy\b", comments, re.M)),
            )
        )
    return header, entries


def mo_messages(data: bytes) -> dict[bytes, bytes]:
    """Every (msgid, msgstr) pair of a compiled GNU .mo file, header included."""
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])

    def string(table: int, index: int) -> bytes:
        length, offset = struct.unpack(
            order + "2I", data[table + 8 * index : table + 8 * index + 8]
        )
        return data[offset : offset + length]

    return {string(originals, i): string(translations, i) for i in range(count)}


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_language_has_a_committed_catalogue(code: str) -> None:
    messages = LOCALE_DIR / code / "LC_MESSAGES"
    assert (messages / "django.po").is_file(), f"no catalogue for {code}: run scripts/messages"
    assert (messages / "django.mo").is_file(), f"{code} is not compiled: scripts/messages"
    header, entries = po_entries(messages / "django.po")
    assert header["Language"] == code
    assert len(entries) > 150


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_committed_mo_is_a_fresh_compile_of_its_po(code: str, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    require_service(msgfmt is not None, "msgfmt (apt-get install gettext)")
    messages = LOCALE_DIR / code / "LC_MESSAGES"
    fresh = tmp_path / "django.mo"
    subprocess.run(
        [str(msgfmt), "--check", "-o", str(fresh), str(messages / "django.po")],
        check=True,
        capture_output=True,
    )
    # The same messages, not the same bytes: another gettext release may lay out the
    # hash table differently while meaning exactly the same.
    committed = mo_messages((messages / "django.mo").read_bytes())
    assert committed == mo_messages(fresh.read_bytes()), "recompile: scripts/messages --compile"


@pytest.mark.parametrize("code", LANGUAGES)
def test_translations_keep_placeholders_and_the_plural_forms_of_their_language(
    code: str,
) -> None:
    header, entries = po_entries(LOCALE_DIR / code / "LC_MESSAGES" / "django.po")
    nplurals = int(re.search(r"nplurals=(\d+)", header["Plural-Forms"]).group(1))
    for entry in entries:
        if not any(entry.msgstrs):
            continue  # untranslated: the strict test below says so
        if entry.msgid_plural:
            assert len(entry.msgstrs) == nplurals, entry.msgid
            allowed = set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
            for msgstr in entry.msgstrs:
                assert set(PLACEHOLDER.findall(msgstr)) <= allowed, (entry.msgid, msgstr)
        else:
            assert sorted(PLACEHOLDER.findall(entry.msgstrs[0])) == sorted(
                PLACEHOLDER.findall(entry.msgid)
            ), (entry.msgid, entry.msgstrs[0])


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_entry_of_a_catalogue_is_untranslated_or_fuzzy(code: str) -> None:
    _, entries = po_entries(LOCALE_DIR / code / "LC_MESSAGES" / "django.po")
    fuzzy = [entry.msgid for entry in entries if entry.fuzzy]
    untranslated = [entry.msgid for entry in entries if not all(entry.msgstrs)]
    assert fuzzy == [], f"{code}: fuzzy (check and translate): {fuzzy}"
    assert untranslated == [], f"{code}: untranslated: {untranslated}"


def test_the_catalogues_hold_every_string_of_the_pages(tmp_path: Path) -> None:
    """makemessages over a copy of the sources finds nothing the catalogues lack, so a
    string added to a page or to strings.py without its translations fails here."""
    require_service(shutil.which("xgettext") is not None, "xgettext (apt-get install gettext)")
    copy = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static")
    # The project's own packages (Django imports every installed app) and the templates.
    packages = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    for name in [*sorted(p for p in packages if (ROOT / p).is_dir()), "templates"]:
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    command = ["makemessages", "--all", "--no-location", "--no-obsolete", "--ignore=api"]
    subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=copy,
        env={**os.environ, "TAKEBACK_VAR_DIR": str(tmp_path / "var")},
        check=True,
        capture_output=True,
    )
    missing = {}
    for code in LANGUAGES:
        _, entries = po_entries(copy / "portal" / "locale" / code / "LC_MESSAGES" / "django.po")
        new = [e.msgid for e in entries if e.fuzzy or not all(e.msgstrs)]
        if new:
            missing[code] = new
    assert missing == {}, "run scripts/messages and translate: " + repr(missing)
