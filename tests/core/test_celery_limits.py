"""Worker recovery settings (#17.5): late acknowledgement, a visibility timeout in minutes, and
a hard time limit on every task below it (a task still running is never handed to a second
worker). The fault test with real workers: tests/hardening/test_worker_recovery.py."""

from django.conf import settings

from config.celery import app

LONG = {
    "loyalty.ledger.tasks.points_expire_due_task",
    "loyalty.ledger.tasks.points_release_pending_task",
    "loyalty.ledger.tasks.points_expiry_warn_task",
    "loyalty.ledger.tasks.ledger_reconcile_task",
    "loyalty.tiers.tasks.tier_period_end_evaluate_task",
    "rewards.tasks.vouchers_expire_due_task",
}


def _limits(name: str) -> tuple[float, float]:
    annotation = app.conf.task_annotations.get(name, {})
    return (
        annotation.get("soft_time_limit", app.conf.task_soft_time_limit),
        annotation.get("time_limit", app.conf.task_time_limit),
    )


def test_a_killed_workers_task_comes_back_in_minutes_not_an_hour():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility == settings.BROKER_VISIBILITY_TIMEOUT == 600  # Redis' default is 3600


def test_every_task_has_a_hard_limit_below_the_visibility_timeout():
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert set(ours) >= LONG
    for name in ours:
        soft, hard = _limits(name)
        assert soft and hard, name
        assert soft < hard < visibility, name
    # the nightly jobs were set one by one, longer than the short default
    for name in LONG:
        assert _limits(name)[1] > app.conf.task_time_limit, name
