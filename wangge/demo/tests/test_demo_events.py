"""The demo's events (issue 4, item 11): generated once for the module, checked against the services'
own rules (calendar, dispatch rules, graph, scope) and rolled back afterwards."""

import hashlib
import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from shapely.geometry import Point, shape

from wangge.accounts.models import User
from wangge.core import crypto
from wangge.demo.generators import generate
from wangge.demo.generators.events import default_count
from wangge.events import selectors, services
from wangge.events.models import (
    Channel,
    DispatchRule,
    DisputeOutcome,
    Event,
    HandlingUnit,
    MediationSession,
    StageDeadline,
    TimelineEntry,
    Transition,
    Warning,
    Whistle,
    WhistleSummon,
)
from wangge.events.reference import reference
from wangge.territory.models import GridBoundary

TODAY = date(2025, 6, 16)  # a Monday; the events cover 2024-12-16 … 2025-06-15
N_RESIDENTS = 600
N_EVENTS = 1200
CLOSED = ("closed", "rated", "rejected")

pytestmark = pytest.mark.django_db


def _now() -> datetime:
    return datetime.combine(TODAY, time.min, ZoneInfo(settings.TIME_ZONE))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield generate(seed=1, residents=N_RESIDENTS, today=TODAY, password="x", events=N_EVENTS)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _events_digest() -> str:
    rows = {
        "events": sorted(
            Event.objects.values_list(
                "tracking_code",
                "title",
                "channel",
                "category__code",
                "status__code",
                "lat",
                "lng",
                "path",
                "level",
                "created_at",
                "closed_at",
                "deadline",
                "warning",
                "rating",
                "reporter_phone_hash",
                "master__tracking_code",
                "handler_unit__name",
                "handler_user__username",
            )
        ),
        "timeline": sorted(
            TimelineEntry.objects.values_list("event__tracking_code", "at", "action", "actor_name", "note")
        ),
        "rules": sorted(
            DispatchRule.objects.values_list("order", "category__code", "path_prefix", "unit__name")
        ),
    }
    return hashlib.sha256(json.dumps(rows, default=str, ensure_ascii=False).encode()).hexdigest()


def test_default_count_scales_with_residents():
    assert default_count(14300) == 6000
    assert default_count(7150) == 3000


def test_same_seed_same_events(django_db_blocker):
    digests = []
    for _ in range(2):
        with transaction.atomic():
            generate(seed=5, residents=200, today=TODAY, password="x", events=120)
            assert Event.objects.count() == 120
            digests.append(_events_digest())
            transaction.set_rollback(True)
    assert digests[0] == digests[1]


def test_command_events_option():
    with transaction.atomic():
        out = StringIO()
        call_command("demo", "--residents", "150", "--events", "30", "--today", "2025-06-16", stdout=out)
        assert Event.objects.count() == 30
        assert "events" in out.getvalue()
        transaction.set_rollback(True)


def test_counts_channels_and_window(demo):
    assert Event.objects.count() == N_EVENTS
    channels = Counter(Event.objects.values_list("channel", flat=True))
    for ch in (
        Channel.RESIDENT,
        Channel.HOTLINE,
        Channel.PATROL,
        Channel.OPEN311,
        Channel.SENSOR,
        Channel.SOS,
    ):
        assert channels[ch] > 0, ch
    assert channels[Channel.PATROL] > channels[Channel.OPEN311]
    first = Event.objects.order_by("created_at").first().created_at
    last = Event.objects.order_by("-created_at").first().created_at
    assert first >= _now() - timedelta(days=183)
    assert last < _now()


def test_weekly_rhythm_and_daytime(demo):
    tz = ZoneInfo(settings.TIME_ZONE)
    days = Counter(t.astimezone(tz).weekday() for t in Event.objects.values_list("created_at", flat=True))
    weekday_avg = sum(days[d] for d in range(5)) / 5
    weekend_avg = (days[5] + days[6]) / 2
    assert weekday_avg > 1.5 * weekend_avg
    assert days[0] == max(days.values())  # Monday peak
    hours = Counter(
        t.astimezone(tz).hour
        for t in Event.objects.exclude(channel__in=[Channel.SENSOR, Channel.SOS]).values_list(
            "created_at", flat=True
        )
    )
    assert sum(hours[h] for h in range(8, 18)) > 3 * sum(hours[h] for h in range(0, 7))


def test_hot_spot_of_cooking_fumes(demo):
    fumes = Counter(
        Event.objects.filter(category__code="0103").values_list("grid__code", flat=True)
    ).most_common(1)[0]
    assert fumes[0] == demo.grids[0].node.code
    assert fumes[1] >= 6


def test_statuses_spread_along_the_graph(demo):
    status = Counter(Event.objects.values_list("status__code", flat=True))
    assert status["closed"] + status["rated"] > 0.8 * N_EVENTS
    assert status["rated"] > 0 and status["rejected"] > 0
    open_ = Event.objects.filter(status__is_closed=False, master__isnull=True)
    assert open_.exists()
    assert Event.objects.filter(warning=Warning.RED).exists()
    assert Event.objects.filter(warning__in=[Warning.YELLOW, Warning.RED]).count() >= 3
    assert Event.objects.filter(master__isnull=False).exists()
    assert Event.objects.exclude(level="grid").exists()  # escalated
    assert TimelineEntry.objects.filter(action="escalate").exists()
    assert set(Event.objects.exclude(rating="").values_list("rating", flat=True)) <= {
        "satisfied",
        "basically",
        "unsatisfied",
    }
    states = Counter(WhistleSummon.objects.values_list("state", flat=True))
    assert Whistle.objects.exists() and states["acknowledged"] > 0 and states["missed"] > 0
    assert MediationSession.objects.exists() and DisputeOutcome.objects.exists()
    assert not DisputeOutcome.objects.exclude(event__category__is_dispute=True).exists()


def test_warnings_and_deadlines_are_true(demo):
    now = _now()
    cal = reference().calendar
    checked = 0
    for ev in Event.objects.select_related("category", "category__parent", "status"):
        if ev.status.is_closed or ev.master_id:
            assert ev.warning == Warning.NONE
            continue
        if ev.deadline is None:
            continue
        expected = (
            Warning.RED if ev.deadline <= now else Warning.YELLOW if ev.warn_at <= now else Warning.NONE
        )
        assert ev.warning == expected, ev.tracking_code
        limit = services.time_limit_for(category=ev.category, urgency=ev.urgency, stage=ev.stage)
        assert ev.deadline == cal.deadline(ev.stage_started_at, limit.amount, limit.unit)
        assert ev.warn_at == cal.warn_time(ev.stage_started_at, limit.amount, limit.unit, limit.warn_ratio)
        checked += 1
    assert checked > 0
    # Finished clocks carry the overdue flag the services compute (finished after the deadline).
    for c in StageDeadline.objects.filter(finished_at__isnull=False)[:3000]:
        assert c.overdue == (c.finished_at > c.deadline)
    assert StageDeadline.objects.filter(overdue=True, finished_at__isnull=False).exists()


def test_timelines_are_consistent(demo):
    edges = {(t.source.code, t.target.code) for t in Transition.objects.select_related("source", "target")}
    entries = defaultdict(list)
    for e in TimelineEntry.objects.order_by("event_id", "id"):
        entries[e.event_id].append(e)
    now = _now()
    for ev in Event.objects.select_related("status"):
        rows = entries[ev.pk]
        assert rows[0].action == "report" and rows[0].at == ev.created_at
        assert all(a.at <= b.at for a, b in zip(rows, rows[1:], strict=False)), ev.tracking_code
        assert rows[-1].at < now
        moves = [r for r in rows if r.from_status != r.to_status and r.from_status]
        for r in moves:
            assert (r.from_status, r.to_status) in edges
        if not ev.master_id:
            assert (moves[-1].to_status if moves else "pending") == ev.status.code
        if ev.status.is_closed and not ev.master_id:
            # The last closing from an open status (closed → rated keeps it; a reopen clears it).
            closing = [r for r in moves if r.to_status in CLOSED and r.from_status not in CLOSED]
            assert ev.closed_at == closing[-1].at
        assert ev.updated_at == max(r.at for r in rows)


def test_nobody_verifies_their_own_work(demo):
    """核查 (verify → closed, or back to handling) is by someone other than whoever gave the feedback just
    before it, as the service's rule says (issue 18 A2)."""
    checked = 0
    last_feedback: dict[int, str] = {}
    for r in TimelineEntry.objects.order_by("event_id", "id"):
        if r.to_status == "handled":
            last_feedback[r.event_id] = r.actor_name
        elif r.from_status in ("handled", "verifying") and r.to_status in ("closed", "handling", "verifying"):
            if r.actor_name and r.event_id in last_feedback:
                assert r.actor_name != last_feedback[r.event_id], r.event_id
                checked += 1
    assert checked > 20


def test_events_are_located_in_their_grid(demo):
    polygons = {b.grid_id: shape(b.geojson) for b in GridBoundary.objects.all()}
    for lat, lng, grid_id, path in Event.objects.values_list("lat", "lng", "grid_id", "path"):
        assert polygons[grid_id].contains(Point(lng, lat))
        assert path
    assert Event.objects.filter(building__isnull=False).count() > N_EVENTS * 0.2
    assert not Event.objects.exclude(building__isnull=True).exclude(building__path=F("path")).exists()


def test_reporter_contacts_are_encrypted(demo):
    ev = Event.objects.filter(channel=Channel.HOTLINE, anonymous=False).first()
    phone = crypto.decrypt(ev.reporter_phone_enc)
    assert phone.isdigit() and len(phone) == 11
    assert ev.reporter_phone_hash == crypto.digest(phone)
    assert phone not in ev.reporter_phone_enc
    assert Event.objects.filter(anonymous=True, reporter_phone_enc="").exists()


def test_units_rules_and_dispatch_agree_with_the_service(demo):
    dept1 = User.objects.get(username="dept1")
    assert dept1.handling_units.filter(kind=HandlingUnit.Kind.ENFORCEMENT, name__contains="城管").exists()
    assert HandlingUnit.objects.filter(kind=HandlingUnit.Kind.PROPERTY).exists()
    assert DispatchRule.objects.filter(
        category__code="0401", level="street", unit__name__contains="城管"
    ).exists()
    assert Event.objects.filter(handler_unit__name__contains="城管", category__code__startswith="04").exists()
    # For events dispatched and still with their handler, the real dry run names the same handler.
    sample = Event.objects.filter(status__code__in=["handling", "dispatched", "handled"], master__isnull=True)
    assert sample.exists()
    for ev in sample[:40]:
        got = services.dispatch_resolve(event=ev)
        assert (got["unit_id"], got["user_id"]) == (ev.handler_unit_id, ev.handler_user_id), ev.tracking_code


def test_scoping_with_demo_users(demo):
    grid1, community1, dept1 = (User.objects.get(username=u) for u in ("grid1", "community1", "dept1"))
    mine = selectors.events_visible(user=grid1)
    assert mine.exists()
    assert all(
        p.startswith(grid1.territory.code) or h == grid1.pk
        for p, h in mine.values_list("path", "handler_user_id")
    )
    seen = selectors.events_visible(user=community1)
    assert seen.count() > mine.count()
    assert (
        not seen.exclude(path__startswith=community1.territory.code).exclude(handler_user=community1).exists()
    )
    units = list(dept1.handling_units.values_list("pk", flat=True))
    tasks = selectors.events_visible(user=dept1)
    assert tasks.exists()
    assert not tasks.exclude(handler_unit_id__in=units).exclude(whistles__summons__unit_id__in=units).exists()
    other = Event.objects.exclude(path__startswith=grid1.territory.code).exclude(handler_user=grid1).first()
    with pytest.raises(Exception):  # noqa: B017 - NotFound: out of scope
        selectors.event_get(user=grid1, pk=other.pk)
