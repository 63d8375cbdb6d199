"""Customer service factories. Goodwill points are granted through the service (ledger)."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.service.models import BoughtTogether, Feedback, ProductStats
from tests.factories.members import MemberFactory


class FeedbackFactory(DjangoModelFactory[Feedback]):
    """An open complaint about a store, received now; no goodwill (grant it through
    feedback_goodwill_grant)."""

    class Meta:
        model = Feedback

    member = factory.SubFactory(MemberFactory)
    kind = Feedback.Kind.COMPLAINT
    channel = Feedback.Channel.PHONE
    category = Feedback.Category.STORE
    text = factory.Sequence(lambda n: f"Complaint number {n}: the till refused my voucher.")
    received_at = factory.LazyFunction(timezone.now)


class BoughtTogetherFactory(DjangoModelFactory[BoughtTogether]):
    """One row of the table; the real table comes from bought_together_rebuild."""

    class Meta:
        model = BoughtTogether

    sku = "A"
    other_sku = factory.Sequence(lambda n: f"SKU{n:04d}")
    purchases = 1
    rank = factory.Sequence(lambda n: n + 1)


class ProductStatsFactory(DjangoModelFactory[ProductStats]):
    class Meta:
        model = ProductStats

    sku = factory.Sequence(lambda n: f"SKU{n:04d}")
    purchases = 1
