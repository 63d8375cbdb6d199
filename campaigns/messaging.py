"""Delivery of the member notification outbox (ledger.NotificationOutbox).

The ledger (and tiers, campaigns...) write outbox rows in the transaction of their cause; this
module sends them: e-mail through Django's mail backend (console by default, SMTP by the
EMAIL_* settings), SMS and push through a pluggable backend (LOYALTY_MESSAGE_BACKENDS; the file
backend writes JSON lines for development). Rules:
- only to members who consented on the channel (current consent at sending time);
- marketing messages (campaigns, birthdays, tier changes, badge milestones) at most
  LOYALTY_MESSAGES_PER_WEEK per member in any 7 days; service messages (points expiring or
  available) are not capped;
- every e-mail carries an unsubscribe link that withdraws the e-mail consent;
- a failure is retried with exponential backoff (1, 2, 4, 8 minutes); after
  LOYALTY_MESSAGE_MAX_ATTEMPTS the message is "failed" with the reason.
"""

import json
import logging
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignAudience, MessageDelivery, MessageTemplate
from campaigns.validation import template_errors  # noqa: F401 - re-exported
from loyalty.core.formatting import format_day, format_moment
from loyalty.ledger.models import NotificationOutbox
from loyalty.ledger.timezones import programme_zone
from members.models import Consent, Member

logger = logging.getLogger(__name__)
MARKETING_KINDS = {
    "campaign",
    "birthday",
    "tier_changed",
    "milestone",
    "club_renewal",
    "event_invitation",
}
# milestone: badges (engagement); club_renewal: paid club reminders (membership);
# event_invitation: member events (events)
# tier changes a member is not told about: the entry tier given at enrolment, and imported history
TIER_REASONS_NOT_TOLD = {"enrolment", "import"}
UNSUBSCRIBE_SALT = "campaigns.unsubscribe"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# -------------------------------------------------------------------------------- templates
# Payload values that are days or moments: outbox payloads keep them in ISO ("2027-01-31",
# "2027-02-01T00:00:00+08:00"); a message writes them for people, in the active language and
# the programme's time zone ("31 Jan 2027" / "2027年1月31日", "1 Feb 2027 00:00").
DATE_KEY_ENDINGS = ("_on", "_by", "_at", "_from", "_until")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _readable(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not key.endswith(DATE_KEY_ENDINGS):
        return value
    try:
        if ISO_DAY.match(value):
            return format_day(date.fromisoformat(value))
        if ISO_MOMENT.match(value):
            moment = datetime.fromisoformat(value)
            return format_moment(moment) if timezone.is_aware(moment) else value
    except ValueError:
        return value
    return value


def _context(member: Member, payload: dict[str, Any]) -> dict[str, Any]:
    from loyalty.ledger.models import PointsAccount

    balance = PointsAccount.objects.filter(member=member).values_list("balance", flat=True).first()
    return {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "name": member.display_name,  # the whole name, in the order the language expects
        "member_number": member.member_number,
        "balance": balance or 0,
        **{k: _readable(k, v) for k, v in payload.items() if isinstance(v, str | int | float)},
    }


def template_render(
    template: MessageTemplate, *, member: Member, payload: dict | None = None
) -> dict[str, str]:
    """Subject, text and HTML for one member (also the admin preview). Days and times in the
    programme's time zone: a Celery task has no request to activate it."""
    with timezone.override(programme_zone()):
        context = Context(_context(member, payload or {}), autoescape=False)
        html_context = Context(_context(member, payload or {}))
        return {
            "subject": Template(template.subject).render(context).strip(),
            "text": Template(template.text).render(context),
            "html": Template(template.html).render(html_context) if template.html else "",
        }


def _template_for(row: NotificationOutbox) -> MessageTemplate | None:
    template_id = row.payload.get("template_id")
    if template_id:
        return MessageTemplate.objects.filter(pk=template_id).first()
    return MessageTemplate.objects.filter(kind=row.kind).order_by("pk").first()


def _fallback(row: NotificationOutbox) -> dict[str, str]:
    text = "\n".join(f"{k}: {v}" for k, v in sorted(row.payload.items()))
    return {"subject": row.kind.replace("_", " ").capitalize(), "text": text, "html": ""}


# --------------------------------------------------------------------------------- backends
class FileBackend:
    """Development backend for SMS and push: one JSON line per message in a file."""

    def __init__(self) -> None:
        self.path = Path(_setting("LOYALTY_MESSAGE_FILE", "var/messages.jsonl"))

    def send(self, *, channel: str, member: Member, subject: str, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(
                json.dumps(
                    {
                        "channel": channel,
                        "to": member.phone if channel == "sms" else member.member_number,
                        "subject": subject,
                        "text": text,
                        "at": timezone.now().isoformat(),
                    }
                )
                + "\n"
            )


def backend_for(channel: str) -> Any:
    paths = _setting(
        "LOYALTY_MESSAGE_BACKENDS",
        {"sms": "campaigns.messaging.FileBackend", "push": "campaigns.messaging.FileBackend"},
    )
    return import_string(paths[channel])()


def unsubscribe_token(member: Member, channel: str = "email") -> str:
    return signing.dumps({"m": member.pk, "c": channel}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(member: Member, channel: str = "email") -> str:
    base = _setting("LOYALTY_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    return base + reverse("campaigns:unsubscribe", args=[unsubscribe_token(member, channel)])


def unsubscribe(*, token: str) -> Member | None:
    """Withdraw the consent the token names (None: invalid token)."""
    from members.services import consent_set

    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    member = Member.objects.filter(pk=data.get("m")).first()
    if member is None or data.get("c") not in Consent.Channel.values:
        return None
    consent_set(member=member, channel=data["c"], granted=False, source="unsubscribe")
    return member


def _send_email(member: Member, content: dict[str, str]) -> None:
    address = member.email
    if not address:  # _skip_reason skips a member without one before any send
        raise ValueError("the member has no e-mail address")
    link = unsubscribe_url(member)
    text = content["text"] + "\n\n" + _("Unsubscribe: %(url)s") % {"url": link}
    message = EmailMultiAlternatives(
        subject=content["subject"],
        body=text,
        to=[address],
        headers={"List-Unsubscribe": f"<{link}>"},
    )
    if content["html"]:
        message.attach_alternative(
            content["html"] + f'<p><a href="{link}">{_("Unsubscribe")}</a></p>', "text/html"
        )
    message.send(fail_silently=False)


def _message_send(row: NotificationOutbox, channel: str, content: dict[str, str]) -> None:
    if channel == "email":
        _send_email(row.member, content)
    else:
        backend_for(channel).send(
            channel=channel, member=row.member, subject=content["subject"], text=content["text"]
        )


# --------------------------------------------------------------------------------- delivery
def _skip_reason(row: NotificationOutbox, channel: str, now: datetime) -> str:
    member = row.member
    if member.erased_at or not member.is_active:
        return "member not active"
    if channel == "email" and not member.email:
        return "no e-mail address"
    if channel == "sms" and not member.phone:
        return "no phone number"
    if not Consent.objects.filter(member=member, channel=channel, granted=True).exists():
        return "no consent on this channel"
    if row.kind in MARKETING_KINDS:
        cap = _setting("LOYALTY_MESSAGES_PER_WEEK", 3)
        sent = MessageDelivery.objects.filter(
            member=member,
            marketing=True,
            status=MessageDelivery.Status.SENT,
            sent_at__gte=now - timedelta(days=7),
        ).count()
        if sent >= cap:
            return "weekly frequency cap reached"
    return ""


def message_deliver(*, outbox_id: int, now: datetime | None = None) -> MessageDelivery | None:
    """Send one outbox message (or record why not). Safe to call twice: the row is locked and
    a sent, skipped or failed message is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            NotificationOutbox.objects.select_for_update()
            .select_related("member")
            .filter(pk=outbox_id, status=NotificationOutbox.Status.PENDING)
            .first()
        )
        if row is None:
            return None
        channel = row.payload.get("channel", "email")
        delivery, _created = MessageDelivery.objects.get_or_create(
            outbox=row,
            defaults={
                "member": row.member,
                "channel": channel,
                "status": MessageDelivery.Status.RETRYING,
                "marketing": row.kind in MARKETING_KINDS,
            },
        )
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return delivery
        reason = _skip_reason(row, channel, now)
        if reason:
            delivery.status, delivery.reason = MessageDelivery.Status.SKIPPED, reason
            row.status = NotificationOutbox.Status.FAILED
        else:
            template = _template_for(row)
            # members have no language of their own: a message is written in the worker's
            # (LANGUAGE_CODE), whatever language a request before it left active
            with translation.override(settings.LANGUAGE_CODE):
                content = (
                    template_render(template, member=row.member, payload=row.payload)
                    if template
                    else _fallback(row)
                )
            delivery.attempts += 1
            try:
                with translation.override(settings.LANGUAGE_CODE):
                    _message_send(row, channel, content)
            except Exception as exc:
                logger.warning("message %s failed (attempt %s): %s", row.pk, delivery.attempts, exc)
                delivery.reason = f"{type(exc).__name__}: {exc}"[:255]
                if delivery.attempts >= _setting("LOYALTY_MESSAGE_MAX_ATTEMPTS", 5):
                    delivery.status = MessageDelivery.Status.FAILED
                    row.status = NotificationOutbox.Status.FAILED
                else:
                    delivery.status = MessageDelivery.Status.RETRYING
                    delivery.next_attempt_at = now + timedelta(minutes=2 ** (delivery.attempts - 1))
            else:
                delivery.status, delivery.reason = MessageDelivery.Status.SENT, ""
                delivery.sent_at = now
                row.status, row.sent_at = NotificationOutbox.Status.SENT, now
        delivery.save()
        row.save(update_fields=["status", "sent_at", "updated_at"])
        return delivery


def messages_deliver(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """The beat job: pending outbox messages due now, oldest first, each in its own transaction."""
    now = now or timezone.now()
    due = (
        NotificationOutbox.objects.filter(status=NotificationOutbox.Status.PENDING)
        .filter(Q(delivery__isnull=True) | Q(delivery__next_attempt_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for pk in list(due):
        delivery = message_deliver(outbox_id=pk, now=now)
        if delivery is not None:
            counts[delivery.status] = counts.get(delivery.status, 0) + 1
    return counts


def campaign_messages_queue(*, campaign_id: int) -> int:
    """The launch message of a campaign, one outbox row per targeted (not held out) member."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.message_template_id is None:
        return 0
    ids = CampaignAudience.objects.filter(campaign=campaign, holdout=False).values_list(
        "member_id", flat=True
    )
    rows = [
        NotificationOutbox(
            member_id=member_id,
            kind="campaign",
            payload={
                "template_id": campaign.message_template_id,
                "campaign": campaign.name,
                "campaign_id": campaign.pk,
                "channel": "email",
            },
            dedupe_key=f"campaign:{campaign.pk}:{member_id}",
        )
        for member_id in ids.iterator()
    ]
    NotificationOutbox.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return len(rows)


def tier_changed_messages_queue(event_type: str, payloads: list[dict[str, Any]]) -> None:
    """events.subscribe's batch form of tier_changed_messages_write."""
    tier_changed_messages_write(event_type, payloads)


def tier_changed_messages_write(event_type: str, payloads: list[dict[str, Any]]) -> int:
    """The tiers' `tier.changed` events (loyalty.core.events, in the transaction of the change)
    become "tier_changed" outbox messages, one per change, rendered with the "Tier change"
    template ({{ tier }}, {{ previous_tier }}, {{ direction }}: up or down) and sent by the
    delivery job like any other (consent, weekly cap). Not for the entry tier at enrolment or
    for imported history. One insert for a batch (the period-end job's thousands)."""
    if event_type != "tier.changed":
        return 0
    told = [p for p in payloads if p.get("reason") not in TIER_REASONS_NOT_TOLD]
    if not told:
        return 0
    from loyalty.tiers.models import Tier

    codes = {p["from_tier"] for p in told if p["from_tier"]} | {p["to_tier"] for p in told}
    names = dict(Tier.objects.filter(code__in=codes).values_list("code", "name"))
    rows = [
        NotificationOutbox(
            member_id=p["member_id"],
            kind="tier_changed",
            payload={
                "tier": names.get(p["to_tier"], p["to_tier"]),
                "previous_tier": names.get(p["from_tier"], p["from_tier"] or ""),
                "direction": p["direction"],
                "channel": "email",
            },
            dedupe_key=f"tier:{p['member_id']}:{p['to_tier']}:{p['occurred_at']}"[:120],
        )
        for p in told
    ]
    NotificationOutbox.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return len(rows)


def tier_changed_message_queue(event_type: str, payload: dict[str, Any]) -> None:
    """The one-event form of tier_changed_messages_write (events.subscribe)."""
    tier_changed_messages_write(event_type, [payload])
