"""Background tasks (django-tasks). Thin wrappers: the work is in services."""

from django_tasks import task

from .services import import_job_run


@task()
def import_run(job_id: int) -> str:
    """Run import job `job_id`; returns its final status."""
    return import_job_run(job_id=job_id).status
