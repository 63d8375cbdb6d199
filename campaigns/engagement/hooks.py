"""How engagement plugs into the ledger (registered in EngagementConfig.ready()).

`engagement_after_posting` runs inside the transaction that posts a purchase or a return, after
the tiers' and campaigns' hooks, under the member's account lock: the member's streak, stage and
badges are recomputed there, so the answer to the till already shows a badge just earned. A few
indexed statements per purchase (docs/performance.md counts them).
"""

from typing import Any

from loyalty.ledger.models import Transaction


def engagement_after_posting(*, transaction: Transaction, result: Any) -> None:
    if transaction.member_id is None:
        return
    from campaigns.engagement.services import engagement_members_refresh

    imported = transaction.channel == Transaction.Channel.IMPORT
    engagement_members_refresh(
        member_ids=[transaction.member_id],
        source="import" if imported else "posting",
        notify=not imported,  # no milestone messages for history
    )
