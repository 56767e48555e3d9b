"""The urgency a report's text suggests, read in context (issue 18 C2).

A substring test raised 水深火热, 如火如荼, 火疗, 火炬 to 特急 and started the SOS watch. The words are rows
(`UrgencyWord`: critical, urgent, ignore); how they are read is here:

1. Longest match first. Every occurrence of every active word is a candidate span; longer spans win over the
   shorter ones they overlap (如火如荼 hides its 火, 灭火器 hides nothing of a later 着火). Between overlapping
   spans of equal length the danger word wins (失火车库: 失火 beats 火车) — a missed fire costs more than a
   needless call. Latin words (sos) match only as whole words.
2. Negation and hypotheticals, conservatively. A danger word preceded within its clause by a negation
   (没有着火, 不是火灾, 并未冒烟) or a hypothetical (防止起火, 担心会漏气, 容易着火), or followed in its
   sentence by a resolution (火已扑灭, 漏水已修好), is "negated". A negated critical word proposes 紧急, not
   特急: a person looks at it soon, but no SOS watch starts on a sentence that says there is no fire. A
   negated urgent word proposes nothing. One word that is not negated is enough for its level.

Only live reports get urgency from text: the history import classifies with `classify_texts` and never calls
this (an old "着火" must not page anyone today).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..common.rules import urgency_words
from ..models import Category, Urgency, UrgencyWordLevel

# Cues are language, not city rules: they say how a sentence is built, not which words matter in a city.
# Before the word, in its clause. A one-character negation must stand right before the word (没着火, 未起火) —
# 未成年人被困, 不停地漏水 are not negated — a longer one may be up to NEGATION_GAP characters away (没有发现明火).
NEGATIONS = ("没有", "不是", "不算", "并非", "并未", "并没", "并无", "无人", "没人", "排除")
NEGATIONS_NEXT = ("没", "无", "未", "非", "别", "不")
HYPOTHETICALS = ("防止", "预防", "以防", "防范", "谨防", "担心", "害怕", "容易", "会不会", "万一", "如果")
# Right after the word: it names a risk or an exercise, not an event (火灾隐患, 燃气泄漏风险, 消防演练).
ABOUT = ("隐患", "风险", "演练", "演习", "预案", "知识", "宣传", "安全", "报警器", "探测器")
# After the word, in its sentence: it is over (火已扑灭, 漏水已修好).
RESOLVED = (
    "已扑灭",
    "已经扑灭",
    "被扑灭",
    "扑灭了",
    "已熄灭",
    "已灭",
    "已修好",
    "已经修好",
    "已修复",
    "已恢复",
    "已经恢复",
    "已处理",
    "已解决",
    "已排除",
    "已救出",
)
# A negation reaches the danger word only inside its clause; 但/但是/可是 start a new one (不是火灾，但冒烟了).
_CLAUSE_END = re.compile(r"[，,。.！!？?；;：:\n\r]|但是|但|可是|不过|却")
_SENTENCE_END = re.compile(r"[。.！!？?；;\n\r]")
NEGATION_GAP = 3
ABOUT_GAP = 2
RESOLVED_WINDOW = 10

_RANK = {UrgencyWordLevel.IGNORE: 0, UrgencyWordLevel.URGENT: 1, UrgencyWordLevel.CRITICAL: 2}


@dataclass(frozen=True)
class UrgencyHit:
    word: str
    level: str  # UrgencyWordLevel.CRITICAL or URGENT
    start: int
    negated: bool


def _spans(text: str, words: dict[str, tuple[str, ...]]) -> list[tuple[int, int, str, str]]:
    found: list[tuple[int, int, str, str]] = []
    for level in (UrgencyWordLevel.CRITICAL, UrgencyWordLevel.URGENT, UrgencyWordLevel.IGNORE):
        for word in words.get(str(level), ()):
            latin = word.isascii() and word.isalnum()
            start = text.find(word)
            while start != -1:
                end = start + len(word)
                if not latin or (
                    (start == 0 or not text[start - 1].isascii() or not text[start - 1].isalnum())
                    and (end == len(text) or not text[end].isascii() or not text[end].isalnum())
                ):
                    found.append((start, end, str(level), word))
                start = text.find(word, start + 1)
    return found


def _negated(text: str, start: int, end: int) -> bool:
    clause = _CLAUSE_END.split(text[max(0, start - 12) : start])[-1]
    for cues, gap in ((NEGATIONS + HYPOTHETICALS, NEGATION_GAP), (NEGATIONS_NEXT, 0)):
        for cue in cues:
            at = clause.rfind(cue)
            if at != -1 and len(clause) - (at + len(cue)) <= gap:
                return True
    following = text[end : end + RESOLVED_WINDOW]
    stop = _SENTENCE_END.search(following)
    if stop is not None:
        following = following[: stop.start()]
    if any(0 <= following.find(cue) <= ABOUT_GAP for cue in ABOUT):
        return True
    return any(cue in following for cue in RESOLVED)


def urgency_hits(text: str) -> list[UrgencyHit]:
    """The danger words this text contains in context (after ignore phrases took their spans), in order."""
    t = (text or "").lower()
    if not t:
        return []
    spans = _spans(t, urgency_words())
    # Longest first; at equal length the more dangerous level first, then the earlier.
    spans.sort(key=lambda s: (-(s[1] - s[0]), -_RANK[UrgencyWordLevel(s[2])], s[0]))
    taken = [False] * len(t)
    hits: list[UrgencyHit] = []
    for start, end, level, word in spans:
        if any(taken[start:end]):
            continue
        for i in range(start, end):
            taken[i] = True
        if level != UrgencyWordLevel.IGNORE:
            hits.append(UrgencyHit(word=word, level=level, start=start, negated=_negated(t, start, end)))
    hits.sort(key=lambda h: h.start)
    return hits


def suggest_urgency(text: str, category: Category | None = None) -> str:
    """特急 for a life-safety word (着火, 救命, 晕倒, 燃气泄漏, 困人 …) meant as happening now, 紧急 for
    漏水/断电 … or for a negated life-safety word, else 一般 (see the module docstring).

    `category` is accepted so installations can extend the rule; the default looks at the text only.
    """
    best = Urgency.NORMAL
    for hit in urgency_hits(text):
        if hit.level == UrgencyWordLevel.CRITICAL:
            if not hit.negated:
                return str(Urgency.CRITICAL)
            best = Urgency.URGENT
        elif not hit.negated:
            best = Urgency.URGENT
    return str(best)
