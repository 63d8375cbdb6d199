"""Queue a Celery task by its registered name.

A services module hands side effects to its app's tasks, and that tasks module imports the
services it runs: importing the task object from the services would close an import cycle
(forbidden by the `acyclic` import contract). So services name the task, as Celery's own
`send_task` does, and this helper looks it up in the registry. Unlike `send_task`, the task
object's `delay` honours `CELERY_TASK_ALWAYS_EAGER`, so the embedded default (no broker) still
runs it in-process.
"""

from importlib import import_module
from typing import Any

from celery import current_app


def task_delay(name: str, *args: Any, **kwargs: Any) -> Any:
    """`delay` the task registered as `name` (its dotted path, e.g. "rewards.tasks.x_task").

    The module is imported on first use if no worker or beat imported it yet (Celery registers
    a shared task when its module is imported). Raises what `delay` raises (broker down)."""
    if name not in current_app.tasks:
        import_module(name.rpartition(".")[0])
    return current_app.tasks[name].delay(*args, **kwargs)
