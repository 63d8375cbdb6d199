"""Points given by campaigns without a budget during the posting of one purchase, added to their
points_awarded by `hooks.campaign_counts_flush`, the last hook before the commit: (transaction
id, {campaign id: points}). Per thread; a posting that fails leaves a stale entry that the next
posting clears (campaigns_after_posting) and that never matches another transaction."""

import threading

_counts = threading.local()


def count_later(*, transaction_id: int, campaign_id: int, points: int) -> None:
    pending: tuple[int, dict[int, int]] | None = getattr(_counts, "pending", None)
    if pending is None or pending[0] != transaction_id:
        pending = (transaction_id, {})
        _counts.pending = pending
    pending[1][campaign_id] = pending[1].get(campaign_id, 0) + points


def counts_take() -> tuple[int, dict[int, int]] | None:
    """The pending counts, removed."""
    pending: tuple[int, dict[int, int]] | None = getattr(_counts, "pending", None)
    _counts.pending = None
    return pending
