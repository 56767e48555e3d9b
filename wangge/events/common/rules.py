"""City rules that are rows (issue 17; seeded by migration 0009, edited in the admin): the words that make
triage propose 特急/紧急 (`UrgencyWord`), and which roles may blow the whistle (吹哨), supervise (督办,
reassigning, deciding pending matters) or verify others' work (核查; migration 0011) (`EventRoleRule`).

They are read together and kept exactly as long as this process's reference data (`reference.reference()`):
a change saved here is seen at once (the signals below drop the reference copy, and these with it), another
process sees it within reference.RECHECK_SECONDS, like a changed category. Tests forget both at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from ..models import EventRoleRule, UrgencyWord, UrgencyWordLevel
from ..reference import Reference, reference, reference_reset


@dataclass(frozen=True)
class CityRules:
    source: Reference  # the reference copy these were read with: when it is replaced they are read again
    urgency: dict[str, tuple[str, ...]]  # level (critical, urgent, ignore) → active words, lower-cased
    whistle: frozenset[str]
    supervise: frozenset[str]
    verify: frozenset[str]


_lock = threading.Lock()
_current: CityRules | None = None


def _load(source: Reference) -> CityRules:
    urgency: dict[str, list[str]] = {str(level): [] for level in UrgencyWordLevel}
    for word, level in UrgencyWord.objects.filter(active=True).values_list("word", "level"):
        word = word.strip().lower()
        if word and level in urgency:
            urgency[level].append(word)
    # Longest ignore words first: a longer one (消火栓) goes before a shorter one inside it could match.
    urgency[UrgencyWordLevel.IGNORE].sort(key=lambda w: (-len(w), w))
    roles = list(EventRoleRule.objects.values_list("role", "may_whistle", "supervises", "may_verify"))
    return CityRules(
        source=source,
        urgency={level: tuple(words) for level, words in urgency.items()},
        whistle=frozenset(role for role, whistle, _, _ in roles if whistle),
        supervise=frozenset(role for role, _, supervises, _ in roles if supervises),
        verify=frozenset(role for role, _, _, verifies in roles if verifies),
    )


def city_rules() -> CityRules:
    """This process's copy of the city rules, read again whenever the reference data is."""
    global _current
    source = reference()
    rules = _current
    if rules is not None and rules.source is source:
        return rules
    with _lock:
        rules = _current
        if rules is None or rules.source is not source:
            rules = _load(source)
            _current = rules
        return rules


def urgency_words() -> dict[str, tuple[str, ...]]:
    """Active urgency words by level ("critical", "urgent", "ignore"), lower-cased."""
    return city_rules().urgency


def whistle_roles() -> frozenset[str]:
    """Roles that may blow the whistle (吹哨报到); a superuser always may."""
    return city_rules().whistle


def supervisor_roles() -> frozenset[str]:
    """Roles that supervise the event loop (督办 notices, reassigning, deciding pending matters)."""
    return city_rules().supervise


def verify_roles() -> frozenset[str]:
    """Roles that may verify (核查) an event's handling, never their own (`actions`); a superuser may too."""
    return city_rules().verify


# Connected here, not in reference.py: every process that serves events imports `common` (the facade, the
# clock sweep's notifications, the configuration services, the admin through the models' signals).
for _model in (UrgencyWord, EventRoleRule):
    post_save.connect(reference_reset, sender=_model, dispatch_uid=f"city-rules-{_model._meta.label}-save")
    post_delete.connect(reference_reset, sender=_model, dispatch_uid=f"city-rules-{_model._meta.label}-del")
