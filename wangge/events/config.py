"""Configuration writes (categories, statuses, transitions, limits, dispatch rules, units, calendar days)
from the admin and the API, each with an audit row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput

from .models import Category
from .triage.classifier import classifier_reset


def config_save(*, actor: Any, model: type[models.Model], data: dict[str, Any], instance: Any = None) -> Any:
    """Create or update one configuration row (validated by the model), with an audit row."""
    obj = instance if instance is not None else model()
    m2m = {}
    for name, value in data.items():
        f = obj._meta.get_field(name)
        if f.many_to_many:
            m2m[name] = value
        else:
            setattr(obj, name, value)
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise InvalidInput("配置数据有误", code="invalid", details=exc.message_dict) from None
    before = None if instance is None else {"id": instance.pk}
    with transaction.atomic():
        try:
            obj.save()
        except IntegrityError:
            raise Conflict("与已有配置重复", code="duplicate") from None
        for name, value in m2m.items():
            getattr(obj, name).set(value)
        audit_record(
            actor=actor,
            action=f"events.config_{'create' if instance is None else 'update'}",
            obj=obj,
            before=before,
            after={k: _plain(v) for k, v in data.items() if k != "members"},
            path=str(getattr(obj, "path", "") or ""),
        )
        _categories_changed(model)
    return obj


def _categories_changed(model: type[models.Model]) -> None:
    """This process classifies with the new keywords at once; other processes within RECHECK_SECONDS."""
    if model is Category:
        classifier_reset()  # this transaction sees the change already…
        transaction.on_commit(classifier_reset)  # …and a reload by another request before commit is dropped


def config_delete(*, actor: Any, instance: models.Model) -> None:
    """Delete one configuration row; rows still in use are refused (deactivate them instead)."""
    with transaction.atomic():
        label = str(instance)
        pk = instance.pk
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("该配置仍在使用中，不能删除（可改为停用）", code="in_use") from None
        audit_record(
            actor=actor,
            action="events.config_delete",
            object_type=f"{instance._meta.app_label}.{instance._meta.model_name}",
            object_id=str(pk),
            object_repr=label,
            path="",
        )
        _categories_changed(type(instance))


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
