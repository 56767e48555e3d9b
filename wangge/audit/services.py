"""The one writer of audit rows. Callers run it inside their own transaction."""

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, ParamSpec

from django.db import models

from wangge.core.middleware import current_ip

from .models import AuditEntry

P = ParamSpec("P")


def _object_fields(obj: models.Model | None) -> dict[str, str]:
    if obj is None:
        return {"object_type": "", "object_id": "", "object_repr": "", "path": ""}
    meta = obj._meta
    # object_repr must not carry personal values: models with personal data define audit_label().
    label = obj.audit_label() if hasattr(obj, "audit_label") else str(obj)
    return {
        "object_type": f"{meta.app_label}.{meta.model_name}",
        "object_id": str(obj.pk or ""),
        "object_repr": label[:200],
        "path": str(getattr(obj, "path", "") or ""),
    }


def audit_entry(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    path: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """One audit row (who, what, when, from where, before/after, why), not yet saved: for callers that
    insert many in bulk. `audit_record` takes the same arguments and appends the row."""
    fields = _object_fields(obj)
    if path is not None:
        fields["path"] = path
    if object_type is not None:
        fields["object_type"] = object_type
    if object_id is not None:
        fields["object_id"] = object_id
    if object_repr is not None:
        fields["object_repr"] = object_repr[:200]
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry(
        actor=actor if authenticated else None,
        actor_name=actor.get_username() if authenticated else "system",
        actor_role=getattr(actor, "role", "") if authenticated else "",
        action=action,
        before=before,
        after=after,
        reason=reason[:500],
        ip=current_ip.get(),
        **fields,
    )


def _appending(build: Callable[P, AuditEntry]) -> Callable[P, AuditEntry]:
    def record(*args: P.args, **kwargs: P.kwargs) -> AuditEntry:
        entry = build(*args, **kwargs)
        entry.save()
        return entry

    record.__doc__ = "Append one audit row (who, what, when, from where, before/after, why); see audit_entry."
    return record


audit_record = _appending(audit_entry)


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """JSON-safe values of plain (non-personal) fields of `obj` for audit rows (foreign keys as ids)."""
    out: dict[str, Any] = {}
    for name in fields:
        field = obj._meta.get_field(name)
        assert isinstance(field, models.Field)  # a plain field, not a reverse relation
        value = getattr(obj, field.attname)
        if isinstance(value, date):
            value = value.isoformat()
        out[name] = value
    return out


def audit_change(
    *, actor: Any, action: str, obj: models.Model, before: dict[str, Any], after: dict[str, Any]
) -> AuditEntry | None:
    """Audit an update with only the changed keys; nothing when nothing changed."""
    b, a = diff(before, after)
    if a or b:
        return audit_record(actor=actor, action=action, obj=obj, before=b, after=a)
    return None
