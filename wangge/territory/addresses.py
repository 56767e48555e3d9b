"""Address → building (A9): match a typed address ("幸福小区三栋2单元501", "xx区幸福小区 ３幢", "幸福3-2-501")
against the building register.

`normalise` brings the ways people write an address to one form (NFKC: full-width digits and letters to
half-width; Chinese numerals before 栋/幢/号楼/座/楼/单元/号/室 to digits; 幢/号楼/座/楼/# to 栋; no spaces
or punctuation). `parse` splits off compound, building, unit and room. `address_match` then looks the
building up by (compound name or its stem without 小区/花园/苑…, building number) in an in-memory index;
without a known compound name it falls back to a scored fuzzy match of the compound (difflib ratio among
the compounds sharing a character bigram with what was typed).

The index holds names and numbers only (never a grid: buildings are fetched fresh by id, so a redraw is
seen at once). It is built once per process and rebuilt when the register changed: in this process at
once (signals from `TerritoryConfig.ready`), in other processes when the building/compound counts or the
buildings' latest `updated_at` moved (looked at no more than once a second) and at the latest after
`MAX_AGE_SECONDS` (a compound renamed elsewhere). A call costs dictionary look-ups plus one query for the
matched rows; it never scans the buildings.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from .models import Building, Territory

VERSION_CHECK_SECONDS = 1.0
MAX_AGE_SECONDS = 600.0
FUZZY_MIN = 0.75  # difflib ratio below which a compound name is not a candidate at all
FUZZY_POOL = 20  # compounds (most shared bigrams) scored by difflib per call
AMBIGUITY_GAP = 0.1  # a runner-up this close to the best makes the best not confident
MAX_CANDIDATES = 5

# Endings of compound names people leave out or swap ("幸福3栋" for 幸福小区3栋).
COMPOUND_SUFFIXES = (
    "小区", "花园", "家园", "新村", "公寓", "佳苑", "雅居", "名邸", "新城", "社区", "大院", "苑", "园", "院",
    "庭", "府", "居", "城",
)  # fmt: skip

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号楼|栋|幢|座|楼|单元|号|室|层|户)")
_NUMBER_SIGN = re.compile(r"(\d)#")
_DASHES = re.compile(r"[‐‑‒–—―−~～_]")
_KEEP = re.compile(r"[^0-9a-z\u4e00-\u9fff\-]+")
_BUILDING_MARK = re.compile(r"(\d+|[a-z]\d*)(?:号楼|幢|座|楼)")
_DUP_DASH = re.compile(r"-{2,}")
# After the compound: "3栋2单元501", "3号", "3-2-501", "3", "a栋".
_MARKED = re.compile(r"-?(\d+|[a-z]\d*)(栋|号)(?:-?(\d+)单元)?-?(?:(\d+)(?:室|号|户)?)?")
_DASHED = re.compile(r"-?(\d+|[a-z]\d*)-(\d+)(?:单元)?(?:-(\d+))?")
_BARE = re.compile(r"-?(\d+|[a-z]\d*)$")
# Where a building number starts in an address with no known compound (for the fuzzy fallback).
_BUILDING_ANYWHERE = re.compile(r"(\d+|[a-z]\d*)栋|(\d+)-(\d+)")
_ROAD_NUMBER = re.compile(r"^.*?(?:路|街|道|巷|弄|里)\d+号(?:院)?")
# A leading "xx省xx市" (tried for the register's exact address only: "新城市花园" must keep its name).
_CITY = re.compile(r"^(?:[\u4e00-\u9fff]{2,6}?(?:省|自治区))?[\u4e00-\u9fff]{2,4}?市")
# Score of a building found under each kind of compound hit (before unknown-number/compound-only cuts).
_BASE = {"compound": 0.95, "alias": 0.9, "suffix": 0.7}


def _cn_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十三 → 23, 一百零五 → 105, 五〇一 → 501 (digit by digit without 十/百)."""
    if "十" not in text and "百" not in text:
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[c]
    return total + current


def normalise(text: str) -> str:
    """One way of writing an address: half-width, lower case, digits, 栋 for every building word, no
    spaces or punctuation (a dash between numbers is kept: 3-2-501)."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _NUMBER_SIGN.sub(r"\1号", t)  # "3#楼", "3#": number 3 (a lone # is dropped below)
    t = _DASHES.sub("-", t)
    t = _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(1))), t)
    t = _KEEP.sub("", t)
    t = _BUILDING_MARK.sub(r"\1栋", t)
    return _DUP_DASH.sub("-", t).strip("-")


def _stem(name: str) -> str:
    for suffix in COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return ""


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@dataclass(frozen=True)
class ParsedAddress:
    """What an address says after the compound: building number (or name), unit and room."""

    building: str = ""
    unit: str = ""
    room: str = ""


def parse_rest(rest: str) -> ParsedAddress:
    """Building, unit and room at the start of `rest` (normalised text after the compound name)."""
    m = _MARKED.match(rest)
    if m:
        return ParsedAddress(m.group(1), m.group(3) or "", m.group(4) or "")
    m = _DASHED.match(rest)
    if m:
        if m.group(3):  # 3-2-501: building, unit, room
            return ParsedAddress(m.group(1), m.group(2), m.group(3))
        return ParsedAddress(m.group(1), "", m.group(2))  # 3-501: building, room
    m = _BARE.match(rest)
    if m:
        return ParsedAddress(m.group(1))
    return ParsedAddress()


def building_key(name: str) -> str:
    """The register's building name as a key: "3栋", "3号楼", "三幢" → "3"; "A座" → "a"; else the name."""
    n = normalise(name)
    m = re.fullmatch(r"(\d+|[a-z]\d*)(?:栋|号)?", n)
    return m.group(1) if m else n


# --- the index --------------------------------------------------------------------------------------


@dataclass
class AddressIndex:
    """Names and numbers of the register, by normalised key (ids only; rows are fetched fresh)."""

    names: dict[str, set[int]] = field(default_factory=dict)  # full compound name → compound ids
    stems: dict[str, set[int]] = field(default_factory=dict)  # name without its suffix → compound ids
    lengths: list[int] = field(default_factory=list)  # distinct key lengths, longest first
    grams: dict[str, set[int]] = field(default_factory=dict)  # bigram → compound ids
    compound_names: dict[int, str] = field(default_factory=dict)  # compound id → normalised name
    buildings: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # compound → key → ids
    by_address: dict[str, list[int]] = field(default_factory=dict)  # normalised building address → ids
    prefixes: list[str] = field(default_factory=list)  # territory names, longest first


def build_index(
    compounds: list[tuple[int, str]],
    buildings: list[tuple[int, int | None, str, str]],
    territory_names: list[str],
) -> AddressIndex:
    """An index from (compound id, name), (building id, compound id, name, address) and the names of
    the installation's districts, streets and communities."""
    index = AddressIndex()
    for cid, raw in compounds:
        name = normalise(raw)
        if not name:
            continue
        index.compound_names[cid] = name
        index.names.setdefault(name, set()).add(cid)
        stem = _stem(name)
        if stem:
            index.stems.setdefault(stem, set()).add(cid)
        for gram in _bigrams(name):
            index.grams.setdefault(gram, set()).add(cid)
    index.lengths = sorted({len(k) for k in (*index.names, *index.stems)}, reverse=True)
    for bid, compound_id, name, address in buildings:
        if compound_id is not None:
            index.buildings.setdefault(compound_id, {}).setdefault(building_key(name), []).append(bid)
        if address:
            index.by_address.setdefault(normalise(address), []).append(bid)
    index.prefixes = sorted({p for p in (normalise(n) for n in territory_names) if len(p) >= 2}, key=len)[
        ::-1
    ]
    return index


_lock = threading.Lock()
_cache: dict[str, Any] = {"index": None, "version": None, "checked": 0.0, "built": 0.0}


def invalidate(*args: Any, **kwargs: Any) -> None:
    """Drop this process's index (a building or compound was saved or deleted here)."""
    with _lock:
        _cache.update(index=None, version=None, checked=0.0, built=0.0)


def _version() -> tuple[Any, ...]:
    from django.db.models import Count, Max

    from .models import Building, Compound

    b = Building.objects.aggregate(n=Count("id"), u=Max("updated_at"), m=Max("id"))
    c = Compound.objects.aggregate(n=Count("id"), m=Max("id"))
    return (b["n"], b["u"], b["m"], c["n"], c["m"])


def index_from_db() -> AddressIndex:
    from .models import Building, Compound, Level, Territory

    return build_index(
        list(Compound.objects.values_list("id", "name")),
        list(Building.objects.values_list("id", "compound_id", "name", "address")),
        list(
            Territory.objects.filter(level__in=[Level.DISTRICT, Level.STREET, Level.COMMUNITY]).values_list(
                "name", flat=True
            )
        ),
    )


def address_index() -> AddressIndex:
    """This process's index, rebuilt when the register changed (see the module's docstring)."""
    with _lock:
        now = time.monotonic()
        index = _cache["index"]
        if index is not None and now - _cache["checked"] < VERSION_CHECK_SECONDS:
            return index
        version = _version()  # read before building: a change during the build triggers a rebuild
        if index is None or _cache["version"] != version or now - _cache["built"] > MAX_AGE_SECONDS:
            index = index_from_db()
            _cache.update(index=index, version=version, built=now)
        _cache["checked"] = now
        return index


# --- matching ---------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A building (or, with no building number, a compound) an address may mean. `building` and `grid`
    are the fresh rows; the names are what a page may show."""

    score: float
    how: str  # "address", "compound", "alias" (the name without its suffix), "fuzzy"
    compound_id: int | None
    building: Building | None = None
    grid: Territory | None = None
    compound_name: str = ""
    building_name: str = ""
    grid_name: str = ""

    def label(self) -> str:
        return f"{self.compound_name}{' ' if self.compound_name and self.building_name else ''}{self.building_name}"

    def as_data(self) -> dict[str, Any]:
        """For the triage record (staff only): ids and names."""
        return {
            "building": self.building.pk if self.building is not None else None,
            "compound": self.compound_id,
            "grid": self.grid.code if self.grid is not None else "",
            "label": self.label(),
            "score": round(self.score, 3),
            "how": self.how,
        }


@dataclass
class AddressMatch:
    """`best`: the confident match (None when there is none); `candidates`: everything considered
    plausible, best first (for a person to choose from)."""

    text: str
    parsed: ParsedAddress
    best: Candidate | None
    candidates: list[Candidate]


def confident_threshold() -> float:
    return float(getattr(settings, "WANGGE_ADDRESS_MATCH_THRESHOLD", 0.75))


def _strip_prefixes(text: str, prefixes: list[str]) -> str:
    """Drop the installation's own district/street/community names from the front."""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if text.startswith(p) and len(text) > len(p):
                text, changed = text[len(p) :], True
    return text


def _compound_hits(text: str, index: AddressIndex) -> list[tuple[set[int], str, str]]:
    """(compound ids, how, text after the name) for the compound names found in `text`, best first: the
    full name (longest first), then its stem followed by a building number ("幸福3栋", never "幸福路"),
    then the stem with another ending ("幸福花园3栋" for 幸福小区: weaker, it may be another compound)."""
    hits: list[tuple[int, int, set[int], str, str]] = []
    for i in range(len(text)):
        for length in index.lengths:
            key = text[i : i + length]
            if len(key) < length:
                continue
            rest = text[i + length :]
            if key in index.names:
                hits.append((0, -length, index.names[key], "compound", rest))
            if key not in index.stems:
                continue
            if parse_rest(rest).building:
                hits.append((1, -length, index.stems[key], "alias", rest))
                continue
            for suffix in COMPOUND_SUFFIXES:
                if rest.startswith(suffix) and parse_rest(rest[len(suffix) :]).building:
                    hits.append((2, -length, index.stems[key], "suffix", rest[len(suffix) :]))
                    break
    hits.sort(key=lambda h: (h[0], h[1]))
    return [(ids, how, rest) for _, _, ids, how, rest in hits]


def _fuzzy(text: str, index: AddressIndex) -> list[tuple[int, float, str]]:
    """(compound id, ratio, rest) for compounds whose name is like the text before the building number."""
    m = _BUILDING_ANYWHERE.search(text)
    if m is None or m.start() == 0:
        return []
    segment, rest = text[: m.start()], text[m.start() :]
    segment = _ROAD_NUMBER.sub("", segment) or segment
    shared: Counter[int] = Counter()
    for gram in _bigrams(segment):
        for cid in index.grams.get(gram, ()):
            shared[cid] += 1
    out: list[tuple[int, float, str]] = []
    for cid, _ in shared.most_common(FUZZY_POOL):
        name = index.compound_names[cid]
        tails = {segment[-n:] for n in (len(name), len(name) + 1)}  # a shorter tail would flatter
        ratio = max(difflib.SequenceMatcher(None, name, t).ratio() for t in tails)
        if ratio >= FUZZY_MIN:
            out.append((cid, ratio, rest))
    return out


def address_match(text: str, *, within: str | None = None) -> AddressMatch:
    """Match an address against the building register. `within`: a territory path prefix (a staff
    caller's scope; None for the whole register). A building found by the whole normalised address or
    by (compound, building number) is a confident match when it is the only one; a compound named
    without a building number locates its grid only; a fuzzy or ambiguous match gives candidates."""
    return address_match_many([text], within=within)[0]


def address_match_many(texts: list[str], *, within: str | None = None) -> list[AddressMatch]:
    """`address_match` for each text, reading the matched buildings and compounds in one query each for
    the whole list (an import of thousands of address-only rows makes two queries, not one per row)."""
    from .models import Building, Compound

    index = address_index() if any(len(normalise(t)) >= 2 for t in texts) else None
    proposed = [_propose(t, index) for t in texts]
    buildings, compounds = _fetch([p for _, p in proposed], within, Building, Compound)
    matches = []
    for text, (parsed, proposals) in zip(texts, proposed, strict=True):
        candidates = _candidates(proposals, buildings, compounds)
        best = None
        if candidates:
            top = candidates[0]
            runner = candidates[1].score if len(candidates) > 1 else 0.0
            if (
                top.score >= confident_threshold()
                and top.score - runner >= AMBIGUITY_GAP
                and top.grid is not None
            ):
                best = top
        matches.append(
            AddressMatch(text=text, parsed=parsed, best=best, candidates=candidates[:MAX_CANDIDATES])
        )
    return matches


Proposal = tuple[float, str, int | None, list[int]]  # (score, how, compound id, building ids)


def _propose(text: str, index: AddressIndex | None) -> tuple[ParsedAddress, list[Proposal]]:
    """What the address book proposes for one text, before the rows are read."""
    normal = normalise(text)
    if index is None or len(normal) < 2:
        return ParsedAddress(), []
    stripped = _strip_prefixes(normal, index.prefixes)
    proposals: list[Proposal] = []
    parsed = ParsedAddress()
    exact = next(
        (
            index.by_address[a]
            for a in (normal, stripped, _CITY.sub("", normal, count=1))
            if a in index.by_address
        ),
        None,
    )
    hits = [] if exact else _compound_hits(normal, index)
    if exact:  # the register's own address: as before, it alone decides
        proposals.append((1.0, "address", None, exact))
    elif hits:
        cids, how, rest = hits[0]  # one key: several compounds only when they share the name
        parsed = parse_rest(rest)
        base = _BASE[how]
        for cid in sorted(cids):
            proposals += _building_proposals(index, cid, rest, base, how)
    else:
        for cid, ratio, rest in _fuzzy(stripped, index):
            parsed = parse_rest(rest)
            proposals += _building_proposals(index, cid, rest, ratio * 0.95, "fuzzy")
    return parsed, proposals


def _building_proposals(index: AddressIndex, cid: int, rest: str, base: float, how: str) -> list[Proposal]:
    parsed = parse_rest(rest)
    in_compound = index.buildings.get(cid, {})
    if parsed.building and parsed.building in in_compound:
        return [(base, how, cid, in_compound[parsed.building])]
    named = [ids for key, ids in in_compound.items() if len(key) >= 2 and rest.startswith(key)]
    if not parsed.building and len(named) == 1:  # a building with a name, not a number: "综合楼"
        return [(base, how, cid, named[0])]
    if parsed.building:  # a number the register does not know: the compound, as a weak candidate
        return [(base * 0.6, how, cid, [])]
    return [(base * 0.85, how, cid, [])]  # compound only: its grid, when it lies in one


def _fetch(
    proposal_lists: list[list[Proposal]],
    within: str | None,
    building_model: Any,
    compound_model: Any,
) -> tuple[dict[int, Any], dict[int, Any]]:
    """Fresh rows for all the proposals (one query each for buildings and compounds), scoped to `within`."""
    building_ids = {bid for proposals in proposal_lists for _, _, _, ids in proposals for bid in ids}
    compound_ids = {
        cid for proposals in proposal_lists for _, _, cid, ids in proposals if cid is not None and not ids
    }
    buildings: dict[int, Any] = {}
    if building_ids:
        qs = building_model.objects.select_related("grid", "compound").filter(pk__in=building_ids)
        if within:
            qs = qs.filter(path__startswith=within)
        buildings = {b.pk: b for b in qs}
    compounds: dict[int, Any] = {}
    if compound_ids:
        qs = compound_model.objects.select_related("grid").filter(pk__in=compound_ids)
        if within:
            qs = qs.filter(path__startswith=within)
        compounds = {c.pk: c for c in qs}
    return buildings, compounds


def _candidates(
    proposals: list[Proposal], buildings: dict[int, Any], compounds: dict[int, Any]
) -> list[Candidate]:
    """The proposals whose rows were found (in scope), best first, each building or compound once."""
    out: dict[tuple[str, int], Candidate] = {}
    for score, how, cid, ids in proposals:
        for bid in ids:
            b = buildings.get(bid)
            if b is None:
                continue
            grid = b.grid if b.grid_id else None
            cand = Candidate(
                score=score,
                how=how,
                compound_id=b.compound_id,
                building=b,
                grid=grid,
                compound_name=b.compound.name if b.compound_id else "",
                building_name=b.name,
                grid_name=grid.name if grid is not None else "",
            )
            if ("b", bid) not in out or out[("b", bid)].score < score:
                out[("b", bid)] = cand
        if not ids and cid is not None and cid in compounds:
            c = compounds[cid]
            grid = c.grid if c.grid_id else None
            cand = Candidate(
                score=score,
                how=how,
                compound_id=cid,
                grid=grid,
                compound_name=c.name,
                grid_name=grid.name if grid is not None else "",
            )
            if ("c", cid) not in out or out[("c", cid)].score < score:
                out[("c", cid)] = cand
    return sorted(out.values(), key=lambda c: (-c.score, c.label()))


def address_preview(*, text: str, user: Any, staff: bool) -> dict[str, Any]:
    """What the page shows under the address field as it is typed: names only (compound, building,
    grid), never ids or people. Staff see matches inside their own territory (`core.scope`); the public
    form sees the whole register's names, which the place itself tells anyway."""
    from wangge.core.scope import user_scope_path

    found = address_match(text[:200], within=user_scope_path(user) if staff else None)
    best = found.best
    maybe = found.candidates[0] if best is None and found.candidates else None
    shown = best or maybe
    return {
        "typed": bool(normalise(text)),
        "confident": best is not None,
        "compound": shown.compound_name if shown else "",
        "building": shown.building_name if shown else "",
        "grid": shown.grid_name if shown else "",
    }
