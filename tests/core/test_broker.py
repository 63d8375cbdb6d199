"""A real task through the real broker to a real worker (PostgreSQL + Redis pass of .ci/run)."""

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from loyalty.core.tasks import ping_task

pytestmark = pytest.mark.broker


def _forget_backend() -> None:
    # Celery caches the result backend on first use (earlier tests made it the disabled one):
    # drop it so the next use reads result_backend again.
    app._backend_cache = None
    vars(app._local).pop("backend", None)


@pytest.fixture
def live_worker(settings):
    previous = (app.conf.task_always_eager, app.conf.result_backend)
    app.conf.task_always_eager = False
    # results travel back through the same Redis as the tasks
    app.conf.result_backend = settings.CELERY_BROKER_URL
    _forget_backend()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager, app.conf.result_backend = previous
        _forget_backend()


def test_task_goes_through_redis_to_a_worker_and_back(live_worker):
    result = ping_task.delay()

    assert result.get(timeout=20) == "pong"
    assert result.successful()
