"""What a new installation's users meet first (issue 18): each role lands on a sensible home, a signed-in
resident finds their own reports (我的上报) and keeps 我要说 and tracking in the navigation, timelines name
people as the page header does, and every timeline step has a Chinese name."""

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.events import display, services
from wangge.events.models import Event, HandlingUnit, TimelineEntry

from .test_pages import LAT, LNG, client_for, html, idem_of, make_event

pytestmark = pytest.mark.django_db

EVENTS_DIR = Path(display.__file__).resolve().parent


def _report_as(client: Client, text: str) -> Event:
    key = idem_of(html(client.get("/report/")))
    r = client.post("/report/", {"description": text, "lat": LAT, "lng": LNG, "idem": key})
    assert r.status_code == 201, html(r)[:2000]
    return Event.objects.get(idempotency_key=key)


def _to_handled(world: Any, event: Event) -> None:
    u = world.users
    services.event_accept(event_id=event.pk, actor=u.community1, category_code="0101")
    services.event_dispatch(event_id=event.pk, actor=u.community1, user_id=u.grid1.pk)
    services.event_transition(event_id=event.pk, target="handling", actor=u.grid1)
    services.event_feedback(event_id=event.pk, actor=u.grid1, note="已清运")


# --- A3: homes and 我的上报 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("resident1", "my-reports"),
        ("dept1", "event-tasks"),
        ("community1", "map"),
        ("grid1", "map"),
        ("admin", "map"),
        ("member1", "me"),
    ],
)
def test_each_role_lands_on_its_own_home(world: Any, who: str, home: str) -> None:
    c = client_for(getattr(world.users, who))
    r = c.get("/")
    assert r.status_code == 302 and r["Location"] == reverse(home)
    assert c.get(r["Location"]).status_code == 200


def test_dept_handler_home_is_their_queue_with_deadlines(world: Any) -> None:
    unit = HandlingUnit.objects.create(
        name="城管执法中队", kind="enforcement", territory=world.s1, path=world.s1.path
    )
    unit.members.add(world.users.dept1)
    mine = make_event(world, "小区北门垃圾桶满溢，三天没人清运")
    other = make_event(world, "路灯不亮，晚上很黑，老人走路不方便")
    services.event_accept(event_id=mine.pk, actor=world.users.community1, category_code="0101")
    services.event_dispatch(event_id=mine.pk, actor=world.users.community1, unit_id=unit.pk)
    page = html(client_for(world.users.dept1).get("/", follow=True))
    assert "我的任务" in page and mine.tracking_code in page and other.tracking_code not in page
    assert 'class="light light-green"' in page and "时限" in page  # the traffic light and the deadline


def test_resident_sees_own_reports_and_keeps_public_links(world: Any) -> None:
    resident = client_for(world.users.resident1)
    mine = _report_as(resident, "楼道灯坏了一个星期，晚上看不见台阶")
    theirs = _report_as(client_for(world.users.member1), "小区门口井盖松动，踩上去会响")
    anonymous = _report_as(Client(), "绿化带里有人乱倒建筑垃圾")
    assert mine.reporter_user == world.users.resident1

    page = html(resident.get("/", follow=True))
    assert 'href="/my/reports/"' in page and 'href="/report/"' in page and 'href="/track/"' in page
    assert mine.tracking_code in page and f'href="/track/{mine.tracking_code}/"' in page
    assert theirs.tracking_code not in page and anonymous.tracking_code not in page
    assert mine.status.name in page and "最新进展：上报" in page

    # The report pages keep the navigation for a signed-in resident.
    assert 'href="/my/reports/"' in html(resident.get("/report/"))


def test_my_reports_follows_progress_and_the_account_may_confirm(world: Any) -> None:
    resident = client_for(world.users.resident1)
    event = _report_as(resident, "小区北门垃圾桶满溢，三天没人清运")
    _to_handled(world, event)
    page = html(resident.get("/my/reports/"))
    assert "最新进展：处置反馈" in page
    # The tracking page recognises the reporter's account: confirm without the token in the link.
    track = html(resident.get(f"/track/{event.tracking_code}/"))
    assert 'id="verify"' in track
    assert 'id="verify"' not in html(Client().get(f"/track/{event.tracking_code}/"))
    assert 'id="verify"' not in html(client_for(world.users.member1).get(f"/track/{event.tracking_code}/"))


def test_my_reports_needs_an_account(world: Any) -> None:
    r = Client().get("/my/reports/")
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


def test_staff_navigation_is_unchanged(world: Any) -> None:
    page = html(client_for(world.users.community1).get("/events/tasks/"))
    assert 'href="/my/reports/"' not in page and "首页/地图" in page


# --- A7: people by name -------------------------------------------------------------------------------


def test_timeline_names_the_person_as_the_header_does(world: Any) -> None:
    staff = world.users.community1
    staff.display_name = "李秀英"
    staff.save(update_fields=["display_name"])
    event = make_event(world)
    c = client_for(staff)
    r = c.post(f"/events/{event.pk}/act/accept/", {"version": event.version, "category": "0101"})
    assert r.status_code == 302
    entry = TimelineEntry.objects.get(event=event, action="accept")
    assert entry.actor_name == "李秀英" and entry.actor == staff
    page = html(c.get(f"/events/{event.pk}/"))
    timeline = page[page.index('class="timeline') :]
    assert "李秀英" in timeline and "community1" not in timeline
    # The public tracking page names no staff member (their role only).
    public = html(Client().get(f"/track/{event.tracking_code}/"))
    assert "李秀英" not in public and "community1" not in public


# --- A6: every timeline step has a Chinese name ---------------------------------------------------------

# Calls whose `action=` is an audit action (calendar_year_mark passes its own on to audit_record).
_AUDIT_WRITERS = {"audit_record", "audit_entry", "calendar_year_mark", "add_argument"}


def _consts(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _consts(node.body) + _consts(node.orelse)
    return []


def _timeline_actions(path: Path) -> set[str]:
    """Action strings this module writes to a timeline: `action=` of every call except the audit writers
    (their actions are the audit page's), `action = …` assignments, the values of `*_ACTIONS` tables, and
    the demo simulator's `log(at, action, …)`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _AUDIT_WRITERS:
                continue
            for kw in node.keywords:
                if kw.arg == "action":
                    found.update(_consts(kw.value))
            if name == "log" and len(node.args) >= 2:
                found.update(_consts(node.args[1]))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "action":
                    found.update(_consts(node.value))
                if (
                    isinstance(target, ast.Name)
                    and target.id.endswith("_ACTIONS")
                    and isinstance(node.value, ast.Dict)
                ):
                    for value in node.value.values:
                        found.update(_consts(value))
    return found


def _written_actions() -> set[str]:
    files = [p for p in EVENTS_DIR.rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]
    files.append(EVENTS_DIR.parent / "demo" / "generators" / "events.py")
    actions: set[str] = set()
    for path in files:
        actions |= _timeline_actions(path)
    return actions


def test_the_action_collector_sees_known_writers() -> None:
    # Guards the collector itself: these come from a plain call, an IfExp assignment, a *_ACTIONS table
    # value and the demo simulator. Audit actions (dotted) never count as timeline steps.
    actions = _written_actions()
    assert {"report_in_missed", "sos_realert", "sos_escalate", "resume", "report"} <= actions
    assert not any("." in a for a in actions), sorted(a for a in actions if "." in a)


def test_every_timeline_action_has_a_chinese_label() -> None:
    missing = sorted(a for a in _written_actions() if a not in display.ACTION_LABELS)
    assert not missing, f"timeline actions without a Chinese label in events/display.ACTION_LABELS: {missing}"


def test_an_unknown_step_is_never_shown_by_its_code() -> None:
    assert display.action_label("report_in_missed") == "未按时报到"
    assert display.action_label("city_own_step", {"name": "移交物业"}) == "移交物业"
    assert display.action_label("transition", {"name": "移交物业"}) == "移交物业"
    assert display.action_label("city_own_step") == display.OTHER_ACTION


# --- A6: the admin reads in Chinese ----------------------------------------------------------------------


def _visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


def test_admin_is_titled_and_labelled_in_chinese(world: Any) -> None:
    from wangge.accounts.models import User
    from wangge.audit.services import audit_record
    from wangge.events.models import Transition

    root = User.objects.create_superuser(username="root", password="x", email="")
    c = Client()
    c.force_login(root)
    index = html(c.get("/admin/"))
    assert "网格化基层治理平台 · 管理后台" in index and "Django" not in _visible_text(index)

    audit_record(
        actor=world.users.grid1,
        action="resident.reveal",
        path=world.g111.path,
        object_type="registry.resident",
    )
    audit = _visible_text(html(c.get("/admin/audit/auditentry/")))
    assert "居民 · 查看完整个人信息" in audit and "网格员" in audit
    assert "resident.reveal" not in audit and "registry.resident" not in audit and "grid_worker" not in audit

    users = _visible_text(html(c.get("/admin/accounts/user/")))
    assert "部门处置人员" in users and "dept_handler" not in users

    edge = Transition.objects.order_by("pk").first()
    assert edge is not None
    edge.roles = ["grid_worker", "dept_handler"]
    edge.save(update_fields=["roles"])
    transitions = _visible_text(html(c.get("/admin/events/transition/")))
    assert "网格员、部门处置人员" in transitions and "grid_worker" not in transitions

    # Every field of these admin-visible models is labelled in Chinese (the admin's columns and forms).
    from django.utils import translation

    from wangge.clock.models import Deadline
    from wangge.notify.models import Notification

    with translation.override("zh-hans"):
        for model in (User, Transition, Notification, Deadline):
            english = [
                f.name
                for f in model._meta.get_fields()
                if getattr(f, "concrete", False)
                and f.name != "id"
                and not re.search(r"[\u4e00-\u9fff]", str(f.verbose_name))
            ]
            assert not english, (model.__name__, english)
