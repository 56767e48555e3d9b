"""The English catalogue: every entry translated and reviewed, the committed .mo compiled from the .po, and
the English a user who chose it sees on a page."""

import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

LC_MESSAGES = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES"
PO, MO = LC_MESSAGES / "django.po", LC_MESSAGES / "django.mo"

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_FIELD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$')


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def parse_po(path: Path) -> list[dict[str, Any]]:
    """The .po's entries, header first: their fields (msgid, msgstr[0]…), flags and whether obsolete."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    field = ""
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:  # a blank line ends an entry
            if "msgid" in entry:
                entries.append(entry)
            entry, field = {}, ""
            continue
        if obsolete:
            entry["obsolete"] = True
        if line.startswith("#,"):
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := _FIELD.match(line):
            if match.group(1) == "msgid" and "msgid" in entry:  # entries not separated by a blank line
                entries.append(entry)
                entry = {}
            field = match.group(1)
            entry[field] = _unquote(match.group(2))
        elif line.startswith('"') and line.endswith('"') and field:
            entry[field] += _unquote(line[1:-1])
        else:
            raise AssertionError(f"{path.name}: cannot read the line {raw!r}")
    return entries


def msgstrs(entry: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in entry.items() if k.startswith("msgstr")}


@pytest.fixture(scope="module")
def entries() -> list[dict[str, Any]]:
    parsed = parse_po(PO)
    assert parsed and parsed[0]["msgid"] == "", "the .po starts with its header"
    assert len(parsed) > 500, f"only {len(parsed)} entries read from {PO}"
    return parsed


def test_every_entry_is_translated_and_reviewed(entries: list[dict[str, Any]]) -> None:
    header, *messages = entries
    assert "nplurals=2" in header["msgstr"]
    problems = []
    for e in messages:
        name = repr(e["msgid"][:60])
        if e.get("obsolete"):
            problems.append(f"obsolete #~ entry {name}")
        if "fuzzy" in e.get("flags", set()):
            problems.append(f"fuzzy {name}")
        expected = {"msgstr[0]", "msgstr[1]"} if "msgid_plural" in e else {"msgstr"}
        if set(msgstrs(e)) != expected:
            problems.append(f"{name} has {sorted(msgstrs(e))}, not {sorted(expected)}")
        problems += [f"empty {k} for {name}" for k, v in msgstrs(e).items() if not v.strip()]
    assert not problems, "\n".join(problems)


_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_0-9]*\}")


def test_placeholders_are_kept(entries: list[dict[str, Any]]) -> None:
    problems = []
    for e in entries[1:]:
        wanted = set(_PLACEHOLDER.findall(e["msgid"] + e.get("msgid_plural", "")))
        for key, text in msgstrs(e).items():
            found = set(_PLACEHOLDER.findall(text))
            # The English singular ("one grid") may leave the count out; nothing may be added.
            ok = found <= wanted if key == "msgstr[0]" and "msgid_plural" in e else found == wanted
            if not ok:
                problems.append(f"{e['msgid'][:60]!r} {key}: {sorted(found)} != {sorted(wanted)}")
    assert not problems, "\n".join(problems)


def test_the_committed_mo_is_compiled_from_the_po(entries: list[dict[str, Any]]) -> None:
    expected: dict[Any, str] = {}
    for e in entries:
        if e.get("obsolete") or "fuzzy" in e.get("flags", set()):
            continue  # msgfmt leaves them out
        key = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            expected.update({(key, int(k[7:-1])): v for k, v in msgstrs(e).items()})
        elif key == "":  # the header: msgfmt leaves out the POT-Creation-Date line
            expected[key] = re.sub(r"^POT-Creation-Date:.*\n", "", e["msgstr"], flags=re.M)
        elif e["msgstr"]:
            expected[key] = e["msgstr"]
    with MO.open("rb") as fp:
        catalog = gettext.GNUTranslations(fp)._catalog  # type: ignore[attr-defined]
    missing = {k: v for k, v in expected.items() if catalog.get(k) != v}
    extra = sorted(str(k) for k in catalog.keys() - expected.keys())
    assert not missing and not extra, (
        f"{MO.name} is not compiled from {PO.name} (run msgfmt --check -o {MO} {PO}): "
        f"{len(missing)} differ, e.g. {list(missing)[:3]}; {len(extra)} only in the .mo, e.g. {extra[:3]}"
    )


@pytest.mark.django_db
def test_the_map_page_in_english(world: Any) -> None:
    c = Client()
    c.force_login(world.users.grid1)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # what the language switch writes
    html = c.get(reverse("map")).content.decode()
    assert 'lang="en"' in html
    assert "Locate me" in html and "定位我" not in html
    assert "Event colours" in html and "事件颜色" not in html
