"""The periodic task registry. Each app appends its schedules in AppConfig.ready() through
`register`; `manage.py setup_periodic_tasks` upserts them into django-celery-beat's tables."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str  # unique, shown in the admin
    task: str  # dotted task name
    crontab: str  # "minute hour day_of_month month_of_year day_of_week"
    description: str  # the schedule in words


REGISTRY: dict[str, PeriodicTaskSpec] = {}


def register(spec: PeriodicTaskSpec) -> None:
    REGISTRY[spec.name] = spec


register(
    PeriodicTaskSpec(
        name="Clear expired sessions",
        task="loyalty.core.tasks.sessions_clear_expired_task",
        crontab="15 3 * * *",  # every night at 03:15
        description="Every night at 03:15, delete expired login sessions.",
    )
)
