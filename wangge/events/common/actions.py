"""The one action catalogue: which actions a user may take on an event now.

The pages build their forms from `event_actions`, the API lists the same keys, and every named service
calls `action_require` for its key, so what is offered is exactly what is accepted. The rule is:

- the edges of the status graph leaving the current status, each taken by the service its kind names
  (`edge_kind`), filtered by the edge's roles (empty: anyone the action's "who" admits);
- plus the actions that are not one edge, with their conditions (see `_extra`).

Who (besides the edge roles; a superuser may do everything the state allows, except verify work they
handled; `user=None` is the system and passes every "who" test, never a "when" test):

=============  =======================================================  ==========================================
action         who                                                      when
=============  =======================================================  ==========================================
accept         staff (grid worker and above)                            edge 待受理 → 已受理
reject         staff                                                    an edge → 不予受理
dispatch       staff                                                    an edge → 已派遣
feedback       anyone who may act on the event (handler, co-handler,    an edge → 已处置; at 已派遣 also when 签收 then
               staff in scope)                                          处置反馈 are both edges (the service signs first)
verify         verifier roles (`rules.verify_roles()`) and superusers   已处置/核查中 with an edge → 已结案 or → 处置中
               who may act on the event; never the handler
               (handler_user, a member of handler_unit or of a
               summoned unit, a co-handler) nor whoever gave the
               latest feedback (the reporter verifies on the
               tracking page: `closure.event_verify_by_reporter`)
reopen         staff                                                    已结案/已评价 with an edge → 处置中, within
                                                                        WANGGE_REOPEN_DAYS of closing
escalate       anyone who may act on the event                          open, past 待受理, below the district level,
                                                                        and at 已受理 (in place) or an edge → 已受理
reassign       supervisors (`rules.supervisor_roles()`)                 open, has a handler, status of the handle stage
whistle        whistle roles (`rules.whistle_roles()`)                  open (also 待受理)
extension      anyone who may act on the event                          the current stage has a deadline and no
                                                                        request for it is pending
sos_ack        staff in scope whose role is on duty at the current      an SOS watch not yet acknowledged
               step or an earlier one (`SosStep`)
transition:X   anyone who may act on the event                          a plain edge → X (签收, 退回, 挂起, 恢复处置 …)
=============  =======================================================  ==========================================

Evaluation order: who (Forbidden "action_not_allowed"), then when (Conflict, with the code the service
always used), then the edge's roles (Forbidden "action_not_allowed").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from wangge.core.errors import Conflict, Forbidden, ServiceError

from ..models import Event, ExtensionRequest, Level, SosWatch, Status, TimelineEntry, Transition
from .access import check_version, is_co_handler, is_handler, is_staff, sos_may_acknowledge, sos_visible
from .access import may_act as access_may_act
from .rules import supervisor_roles, verify_roles, whistle_roles

EXTRA_KEYS = ("feedback", "reassign", "escalate", "whistle", "extension")
# Keys that name a service of their own (the rest of the graph is "transition:<target>").
NAMED_KEYS = frozenset(
    {"accept", "reject", "dispatch", "reassign", "escalate", "feedback", "verify", "reopen"}
    | {"whistle", "extension", "sos_ack"}
)
# Titles of the actions that are not one edge (edges keep their own name); the pages translate them.
TITLES = {
    "verify": gettext_noop("核查"),
    "reassign": gettext_noop("改派"),
    "escalate": gettext_noop("上报上级"),
    "whistle": gettext_noop("吹哨报到"),
    "extension": gettext_noop("申请延期"),
    "sos_ack": gettext_noop("SOS 确认响应"),
}


@dataclass(frozen=True)
class EventAction:
    """One action offered: `key` (what the page posts and the API lists), `kind` (which service and form),
    a Chinese `title`, the `target` status code when it moves the event, whether a note is required, and
    the status-graph edge it takes, if any."""

    key: str
    kind: str
    title: str
    target: str = ""
    requires_note: bool = False
    edge: Transition | None = None


def edge_kind(source: str, target: str) -> str:
    """Which named action takes the edge source → target ("" for 评价: the reporter rates on the
    tracking page; "transition" for a plain edge, also for edges an installation adds itself)."""
    if target == "rated":
        return ""
    if source == "pending" and target == "accepted":
        return "accept"
    if target == "rejected":
        return "reject"
    if target == "dispatched":
        return "dispatch"
    if target == "handled":
        return "feedback"
    if source in {"handled", "verifying"} and target in {"closed", "handling"}:
        return "verify"
    if source == "handling" and target == "accepted":
        return "escalate"
    if source in {"closed", "rated"} and target == "handling":
        return "reopen"
    return "transition"


def reopen_deadline(event: Event) -> datetime | None:
    """Until when a closed event may be reopened (None: it was never closed)."""
    if event.closed_at is None:
        return None
    return event.closed_at + timedelta(days=int(settings.WANGGE_REOPEN_DAYS))


def _not_allowed() -> Forbidden:
    return Forbidden("您不能对该事件执行此操作", code="action_not_allowed")


def _role_refused() -> Forbidden:
    return Forbidden("您的角色不能执行此操作", code="action_not_allowed")


class _Ctx:
    """One user and one event; what several rules need is computed once."""

    def __init__(self, user: Any, event: Event) -> None:
        self.user = user
        self.event = event
        self.system = user is None
        self.superuser = bool(getattr(user, "is_superuser", False))
        self.role = getattr(user, "role", "") or ""

    @cached_property
    def edges(self) -> list[Transition]:
        return list(
            Transition.objects.select_related("source", "target")
            .filter(source_id=self.event.status_id)
            .order_by("target__sort", "id")
        )

    @cached_property
    def may_act(self) -> bool:
        """A handler, a co-handler after a whistle, staff whose territory holds the event, a superuser."""
        if self.system:
            return True
        if not getattr(self.user, "is_authenticated", False):
            return False
        if access_may_act(self.user, self.event):
            return True
        return is_co_handler(self.user, self.event)

    @cached_property
    def did_the_work(self) -> bool:
        """The handler (handler_user, a member of handler_unit or of a unit a whistle summoned), a
        co-handler, or whoever gave the latest feedback (处置反馈; a staff member may give it too)."""
        if self.system:
            return False
        if is_handler(self.user, self.event) or is_co_handler(self.user, self.event):
            return True
        fed_back = (
            TimelineEntry.objects.filter(event_id=self.event.pk, action="feedback")
            .order_by("-at", "-id")
            .values_list("actor_id", flat=True)
            .first()
        )
        return fed_back is not None and fed_back == self.user.pk

    @cached_property
    def staff(self) -> bool:
        return self.system or (self.may_act and is_staff(self.user))

    def edge_roles_ok(self, edge: Transition) -> bool:
        return self.system or self.superuser or not edge.roles or self.role in edge.roles

    def edges_of(self, kind: str) -> list[Transition]:
        code = self.event.status.code
        return [e for e in self.edges if edge_kind(code, e.target.code) == kind]

    def state(self, verb: str) -> Conflict:
        return Conflict(f"当前状态“{self.event.status.name}”不能{verb}", code="illegal_transition")


def _edge_action(ctx: _Ctx, key: str, kind: str, edges: list[Transition], verb: str) -> EventAction:
    """An action that is one of `edges` (the first the user's role may take)."""
    if not edges:
        raise ctx.state(verb)
    allowed = [e for e in edges if ctx.edge_roles_ok(e)]
    if not allowed:
        raise _role_refused()
    edge = allowed[0]
    return EventAction(
        key=key,
        kind=kind,
        title=TITLES["verify"] if kind == "verify" else edge.name,
        target="" if kind == "verify" else edge.target.code,
        requires_note=edge.requires_note,
        edge=edge,
    )


def _accept(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.staff:
        raise _not_allowed()
    kind = key
    verb = {"accept": "受理", "reject": "不予受理", "dispatch": "派遣"}[kind]
    return _edge_action(ctx, key, kind, ctx.edges_of(kind), verb)


def _verify(ctx: _Ctx, key: str) -> EventAction:
    """核查 is done by someone other than who did the work: a role the city lets verify (seeded: grid
    worker, community, street and district staff; so the grid's worker verifies a department's work)."""
    if not ctx.system:
        if not (ctx.may_act and (ctx.superuser or ctx.role in verify_roles())):
            raise _not_allowed()
        if ctx.did_the_work:
            raise Forbidden("处置人员不能核查自己的处置结果", code="action_not_allowed")
    return _edge_action(ctx, key, "verify", ctx.edges_of("verify"), "核查")


def _reopen(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.staff:
        raise _not_allowed()
    event = ctx.event
    if event.status.code == "rejected":
        raise Conflict("不予受理的事件不能重新打开", code="illegal_transition")
    action = _edge_action(ctx, key, "reopen", ctx.edges_of("reopen"), "重新打开")
    limit = reopen_deadline(event)
    if limit is not None and timezone.now() > limit:
        raise Conflict(
            f"已超过结案后{settings.WANGGE_REOPEN_DAYS}天的重新打开期限", code="reopen_window_passed"
        )
    return action


def _feedback(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.may_act:
        raise _not_allowed()
    edges = ctx.edges_of("feedback")
    if not edges and ctx.event.status.code == "dispatched":
        # The service signs for a dispatched event first: 签收 then 处置反馈, both edges of the graph.
        sign = [e for e in ctx.edges if e.target.code == "handling"]
        after = list(
            Transition.objects.select_related("source", "target").filter(
                source__code="handling", target__code="handled"
            )
        )
        if sign and after:
            if not (ctx.edge_roles_ok(sign[0]) and ctx.edge_roles_ok(after[0])):
                raise _role_refused()
            edges = after
    return _edge_action(ctx, key, "feedback", edges, "处置反馈")


def _escalate(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.may_act:
        raise _not_allowed()
    event = ctx.event
    if event.status.is_closed or event.status.is_initial:
        raise ctx.state("上报")
    if event.level == Level.DISTRICT:
        raise Conflict("已是区级，不能继续上报", code="escalation_top")
    if event.status.code == "accepted":
        # Not dispatched yet at this level: the event moves up in place, no edge is taken.
        return EventAction(key=key, kind="escalate", title=TITLES["escalate"], requires_note=True)
    edges = [e for e in ctx.edges if e.target.code == "accepted"]
    action = _edge_action(ctx, key, "escalate", edges, "上报")
    named = edge_kind(event.status.code, "accepted") == "escalate"
    return EventAction(
        key=key,
        kind="escalate",
        title=action.title if named else TITLES["escalate"],
        target="accepted",
        requires_note=True,
        edge=action.edge,
    )


def _reassign(ctx: _Ctx, key: str) -> EventAction:
    if not (ctx.system or (ctx.may_act and (ctx.superuser or ctx.role in supervisor_roles()))):
        raise _not_allowed()
    event = ctx.event
    if (
        event.status.is_closed
        or event.status.stage != "handle"
        or not (event.handler_unit_id or event.handler_user_id)
    ):
        raise Conflict(f"当前状态“{event.status.name}”不能改派", code="illegal_transition")
    return EventAction(key=key, kind="reassign", title=TITLES["reassign"], requires_note=True)


def _whistle(ctx: _Ctx, key: str) -> EventAction:
    if not (ctx.system or (ctx.may_act and (ctx.superuser or ctx.role in whistle_roles()))):
        raise Forbidden("您的角色不能吹哨", code="action_not_allowed")
    # Any open event, also one not accepted yet: an urgent report may need departments at once.
    if ctx.event.status.is_closed:
        raise Conflict("事件已办结，不能吹哨", code="event_closed")
    return EventAction(key=key, kind="whistle", title=TITLES["whistle"])


def _extension(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.may_act:
        raise Forbidden("只有本事件的处置人员可以申请延期", code="action_not_allowed")
    event = ctx.event
    if not event.stage or event.deadline is None or event.status.is_closed:
        raise Conflict("当前环节没有时限，无需延期", code="no_deadline")
    if ExtensionRequest.objects.filter(
        event=event, stage=event.stage, state=ExtensionRequest.State.PENDING
    ).exists():
        raise Conflict("本环节已有待审批的延期申请", code="extension_pending")
    return EventAction(key=key, kind="extension", title=TITLES["extension"], requires_note=True)


def _sos_ack(ctx: _Ctx, key: str) -> EventAction:
    if not ctx.system and not sos_visible(user=ctx.user, event=ctx.event):
        raise _not_allowed()
    watch = SosWatch.objects.filter(event_id=ctx.event.pk).first()
    if watch is None:
        raise Conflict("该事件没有一键呼叫", code="no_sos_watch")
    if watch.acknowledged_at is not None:
        raise Conflict("该一键呼叫已有人确认", code="sos_already_acknowledged")
    if not ctx.system and not sos_may_acknowledge(watch=watch, user=ctx.user):
        raise Forbidden("当前值守级别不包括您的角色", code="action_not_allowed")
    return EventAction(key=key, kind="sos_ack", title=TITLES["sos_ack"])


def _transition(ctx: _Ctx, key: str) -> EventAction:
    target = key.partition(":")[2]
    if not ctx.may_act:
        raise _not_allowed()
    edges = [e for e in ctx.edges_of("transition") if e.target.code == target]
    if not edges:
        name = Status.objects.filter(code=target).values_list("name", flat=True).first() or target
        raise ctx.state(f"变更为“{name}”")
    return _edge_action(ctx, key, "transition", edges, "")


_RULES = {
    "accept": _accept,
    "reject": _accept,
    "dispatch": _accept,
    "verify": _verify,
    "reopen": _reopen,
    "feedback": _feedback,
    "escalate": _escalate,
    "reassign": _reassign,
    "whistle": _whistle,
    "extension": _extension,
    "sos_ack": _sos_ack,
}


def _evaluate(ctx: _Ctx, key: str) -> EventAction:
    if key.startswith("transition:"):
        return _transition(ctx, key)
    rule = _RULES.get(key)
    if rule is None:
        raise Forbidden("未知的操作", code="action_not_allowed")
    return rule(ctx, key)


def action_require(*, user: Any, event: Event, key: str, expected_version: int | None = None) -> EventAction:
    """The action `key` on `event` for `user` (None: the system), or Forbidden (code
    "action_not_allowed": not for this user) / Conflict (not in the event's current state). A client
    that names the version it saw learns first that it is stale (`version_conflict`)."""
    check_version(event, expected_version)
    return _evaluate(_Ctx(user, event), key)


def action_allowed(*, user: Any, event: Event, key: str) -> bool:
    try:
        action_require(user=user, event=event, key=key)
    except ServiceError:
        return False
    return True


def event_actions(*, user: Any, event: Event) -> list[EventAction]:
    """Every action `user` may take on `event` now, in the order the page shows them: SOS acknowledgement,
    the edges of the status graph (by target), feedback, reassign, escalate, whistle, extension."""
    ctx = _Ctx(user, event)
    keys: list[str] = ["sos_ack"]
    code = event.status.code
    for edge in ctx.edges:
        kind = edge_kind(code, edge.target.code)
        if kind:
            keys.append(f"transition:{edge.target.code}" if kind == "transition" else kind)
    keys.extend(EXTRA_KEYS)
    out: list[EventAction] = []
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append(_evaluate(ctx, key))
        except ServiceError:
            continue
    return out
