from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from loyalty.core.periodic import REGISTRY


class Command(BaseCommand):
    help = "Create or update the periodic tasks in django-celery-beat's tables (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        from django.conf import settings

        for spec in REGISTRY.values():
            minute, hour, day_of_month, month_of_year, day_of_week = spec.crontab.split()
            schedule, _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_month=day_of_month,
                month_of_year=month_of_year,
                day_of_week=day_of_week,
                timezone=settings.TIME_ZONE,
            )
            # update_or_create by name keeps run history and the admin's enabled toggle.
            _, created = PeriodicTask.objects.update_or_create(
                name=spec.name,
                defaults={"task": spec.task, "crontab": schedule, "description": spec.description},
            )
            verb = "created" if created else "updated"
            self.stdout.write(f"{verb}: {spec.name} ({spec.crontab}) -> {spec.task}")
