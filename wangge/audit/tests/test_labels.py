"""The audit page names actions, object types and people in Chinese, and offers its filters as choices
(issue 18 A6): no `organisation.create`, `registry.organisation#45` or login name where a person reads."""

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.audit import labels
from wangge.audit.services import audit_record

pytestmark = pytest.mark.django_db

WANGGE = Path(labels.__file__).resolve().parent.parent
_WRITERS = {"audit_record", "audit_entry"}


def _visible_text(page: str) -> str:
    """What a reader sees: the page without its tags (and so without attribute values such as
    option values, which are codes on purpose)."""
    body = page[page.index("<main") :]
    return re.sub(r"<[^>]+>", " ", body)


def _written_actions() -> tuple[set[str], set[str]]:
    """(actions written as literals, literal prefixes of f-string actions) by every audit writer call,
    plus the `mark_action` class attributes the calendar admins pass on."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in WANGGE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == "mark_action":
                        if isinstance(node.value, ast.Constant):
                            literal.add(node.value.value)
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in _WRITERS:
                continue
            for kw in node.keywords:
                if kw.arg != "action":
                    continue
                if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    literal.add(kw.value.value)
                elif isinstance(kw.value, ast.JoinedStr):
                    first = kw.value.values[0]
                    prefixes.add(first.value if isinstance(first, ast.Constant) else "")
    return literal, prefixes


def test_every_audit_action_in_the_code_has_a_chinese_name() -> None:
    literal, prefixes = _written_actions()
    assert {
        "resident.reveal",
        "organisation.create",
        "device_register",
        "clock.calendar_year_mark",
    } <= literal
    missing = sorted(a for a in literal if not labels.action_label_known(a))
    assert not missing, f"audit actions without a Chinese name in audit/labels.py: {missing}"
    # Actions built at run time: their subject is known, and every expansion the code makes is named.
    assert prefixes == {"event.", "events.admin_", "events.config_", "export.", ""}, prefixes
    from wangge.events.workflow.transitions import EDGE_ACTIONS, TARGET_ACTIONS
    from wangge.exchange.columns import SPECS

    built = [
        *(f"event.{a}" for a in {*EDGE_ACTIONS.values(), *TARGET_ACTIONS.values(), "reassign", "escalate"}),
        *(f"{p}.admin_{v}" for p in ("events", "clock") for v in ("create", "update", "delete")),
        *(f"events.config_{v}" for v in ("create", "update", "delete")),
        *(f"export.{kind}" for kind in SPECS),
    ]
    missing = sorted(a for a in built if not labels.action_label_known(a))
    assert not missing, missing
    assert all(labels.object_type_label(f"export.{kind}") != labels.OTHER_OBJECT for kind in SPECS)


def test_names_of_actions_and_object_types() -> None:
    assert labels.action_label("organisation.create") == "组织 · 新建"
    assert labels.action_label("resident.reveal") == "居民 · 查看完整个人信息"
    assert labels.action_label("event.dispatch") == "事件 · 派遣"  # the timeline's own names
    assert labels.object_type_label("registry.organisation") == "组织"
    assert labels.object_type_label("events.event") == "事件"
    # Unknown: a readable form, never the bare code.
    assert labels.action_label("organisation.frobnicate") == "组织 · 其他操作（frobnicate）"
    assert labels.action_label("zzz.frob_nicate") == "其他操作（frob nicate）"
    assert labels.object_type_label("nope.thing") == "其他对象"


def test_audit_page_reads_in_chinese(world: Any) -> None:
    u = world.users
    u.grid1.display_name = "王网格"
    u.grid1.save(update_fields=["display_name"])
    audit_record(
        actor=u.grid1,
        action="resident.reveal",
        path=world.g111.path,
        object_type="registry.resident",
        object_id="11",
        object_repr="居民#11",
        reason="入户走访核对",
    )
    audit_record(actor=None, action="deadline.warning", path=world.g111.path, object_type="clock.deadline")
    c = Client()
    c.force_login(u.admin)
    page = c.get(reverse("audit-list")).content.decode()
    text = _visible_text(page)
    for code in ("resident.reveal", "registry.resident", "deadline.warning", "clock.deadline", "system"):
        assert code not in text, code
    assert "居民 · 查看完整个人信息" in text and "王网格" in text and "grid1" not in text
    assert "时限 · 预警" in text and "系统" in text
    # The filters are choices with Chinese names (values stay the codes the search takes).
    assert '<option value="resident.reveal">居民 · 查看完整个人信息</option>' in page
    assert '<option value="registry.resident">居民</option>' in page
    filtered = c.get(reverse("audit-list"), {"action": "resident.reveal"}).content.decode()
    assert '<option value="resident.reveal" selected>' in filtered and "入户走访核对" in filtered
    assert "时限 · 预警" not in filtered[filtered.index("<tbody>") :]


def test_filter_choices_are_scoped(world: Any) -> None:
    audit_record(actor=world.users.street2, action="resident.move_out", path=world.g211.path)
    c = Client()
    c.force_login(world.users.street1)
    page = c.get(reverse("audit-list")).content.decode()
    assert "resident.move_out" not in page  # another street's action is not even offered
