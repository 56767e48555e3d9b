"""Background tasks of the events app (django-tasks). Thin wrappers: the work is in the services."""

from typing import Any

from django.contrib.auth import get_user_model
from django_tasks import TaskContext, task

from wangge.core.errors import ServiceError

from .triage.classifier import classifier_train, classifier_train_progress


@task(takes_context=True)
def classifier_train_run(
    context: TaskContext,
    *,
    actor_id: int | None,
    min_samples_per_class: int,
    folds: int,
    target_precision: float,
) -> dict[str, Any]:
    """Train the classifier (`classifier_train`), recording progress; returns the training report.
    A refusal (history changed since the request was checked) is returned, not raised: it is an answer."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        version = classifier_train(
            actor=actor,
            min_samples_per_class=min_samples_per_class,
            folds=folds,
            target_precision=target_precision,
            progress=classifier_train_progress(str(context.task_result.id)),
        )
    except ServiceError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    return {"ok": True, "version": version.pk, **version.report.as_dict()}  # type: ignore[attr-defined]
