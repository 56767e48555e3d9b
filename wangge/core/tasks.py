"""Enqueueing a background task by its dotted name.

A domain's `tasks.py` sits on top of its services (a task is a thin wrapper that calls a service), so a
service that hands work to the background names the task instead of importing it, the way Django names
models and URLs. That keeps every app's import graph one-way (services → tasks would close a cycle).
"""

from typing import Any

from django.utils.module_loading import import_string


def task_enqueue(path: str, *args: Any, **kwargs: Any) -> Any:
    """Enqueue the django-tasks task at dotted `path` with these arguments; returns its TaskResult."""
    task = import_string(path)
    return task.enqueue(*args, **kwargs)
