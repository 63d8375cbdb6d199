from celery import shared_task
from django.utils import timezone


@shared_task
def campaign_schedule_tick_task() -> dict:
    from campaigns.services import campaign_schedule_tick

    return campaign_schedule_tick(now=timezone.now())


@shared_task
def campaign_daily_task() -> dict:
    from campaigns.services import birthday_awards, referral_release_due, rfm_scores_compute

    return {
        "rfm": rfm_scores_compute(),
        "birthdays": birthday_awards(),
        "referrals": referral_release_due(),
    }


@shared_task
def messages_deliver_task() -> dict:
    from campaigns.messaging import messages_deliver

    return messages_deliver()
