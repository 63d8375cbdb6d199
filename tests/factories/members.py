import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from members.identifiers import new_member_number, new_referral_code
from members.models import Consent, ConsentEvent, Member, MemberEvent, MemberIdentity, Store


class StoreFactory(DjangoModelFactory[Store]):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Store {o.code}")
    region = "London"


class MemberFactory(DjangoModelFactory[Member]):
    """A bare member row; use members.services.member_enroll when consents/history matter."""

    class Meta:
        model = Member

    member_number = factory.LazyFunction(new_member_number)
    referral_code = factory.LazyFunction(new_referral_code)
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    phone = factory.Sequence(lambda n: f"+4479111{n:05d}")
    enrolled_at = factory.LazyFunction(timezone.now)
    home_store = factory.SubFactory(StoreFactory)


class ConsentFactory(DjangoModelFactory[Consent]):
    class Meta:
        model = Consent

    member = factory.SubFactory(MemberFactory)
    channel = Consent.Channel.EMAIL
    granted = True
    changed_at = factory.LazyFunction(timezone.now)
    source = "store"


class ConsentEventFactory(DjangoModelFactory[ConsentEvent]):
    class Meta:
        model = ConsentEvent

    member = factory.SubFactory(MemberFactory)
    channel = Consent.Channel.EMAIL
    granted = True
    source = "store"


class MemberEventFactory(DjangoModelFactory[MemberEvent]):
    class Meta:
        model = MemberEvent

    member = factory.SubFactory(MemberFactory)
    kind = MemberEvent.Kind.UPDATED


class MemberIdentityFactory(DjangoModelFactory[MemberIdentity]):
    class Meta:
        model = MemberIdentity

    member = factory.SubFactory(MemberFactory)
    kind = MemberIdentity.Kind.WECHAT
    value = factory.Sequence(lambda n: f"o6_member{n:06d}")
