"""Background task of the notifications (django-tasks): delivery after commit."""

from django_tasks import task

from .services import notifications_send_pending


@task()
def notifications_send() -> dict[str, int]:
    """Deliver due notifications (enqueued after commit by services that notify); failed sends wait for
    their retry time, which the periodic sweep picks up."""
    result = notifications_send_pending()
    return {"sent": result.sent, "failed": result.failed, "dead": result.dead}
