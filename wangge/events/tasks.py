"""Background tasks of the events app (django-tasks). Thin wrappers: the work is in the services."""

from typing import Any

from django_tasks import task

from .triage.classifier import classifier_training_run


@task()
def classifier_train_run(*, training_id: int) -> dict[str, Any]:
    """Run the queued ClassifierTraining `training_id` (`classifier_training_run`): its progress, report
    or failure are written on that row, which the status API and the admin page read."""
    return classifier_training_run(training_id=training_id)
