from celery import shared_task

from campaigns.service.services import bought_together_rebuild


@shared_task
def bought_together_rebuild_task() -> int:
    # rebuilds the whole table in one transaction: safe to re-run
    return bought_together_rebuild()
