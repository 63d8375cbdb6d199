from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.api.exception_handler import exception_handler
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.schema import ErrorSerializer
from loyalty.core.api.strict import NonZeroIntegerField, StrictSerializer
from loyalty.core.scopes import MEMBERS_READ, TRANSACTIONS_WRITE
from loyalty.integrations.permissions import api_client_of, binding_check
from loyalty.ledger.batch import BatchPurchase, purchases_record_batch
from loyalty.ledger.exceptions import OriginalTransactionNotFound
from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.selectors import account_balance, account_statement, transaction_get
from loyalty.ledger.services import (
    LineInput,
    earn_quote,
    points_adjust,
    purchase_record,
    return_record,
)
from members.api.access import viewer
from members.exceptions import InvalidCardNumber, MemberNotFound
from members.identifiers import is_valid_member_number
from members.models import Store
from members.selectors import (
    member_get,
    member_get_by_number,
    member_list_for_staff,
    member_visible,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 64},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Same key and same request: the first answer is replayed; same key, different "
        "request: 409 idempotency_key_reused (docs/api.md, Idempotency)."
    ),
)


class AwareDateTimeField(serializers.DateTimeField):
    """Refuses times without a UTC offset instead of guessing the server's time zone."""

    def enforce_timezone(self, value: Any) -> Any:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)

    default_error_messages = {"naive": _("Give a UTC offset, e.g. 2026-11-23T10:00:00+00:00.")}


# For inputs that always need a member: the schema says one of the two references is given.
MEMBER_REQUIRED = {"anyOf": [{"required": ["member_id"]}, {"required": ["member_number"]}]}


class MemberRefMixin(StrictSerializer):
    member_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    member_number = serializers.CharField(required=False, max_length=20)


def resolve_member(data: dict, request: Request, *, required: bool = True) -> Any:
    """The member a body names, among those the caller may see (404 for another store's)."""
    if data.get("member_id"):
        return member_get(member_id=data["member_id"], **viewer(request))
    if data.get("member_number"):
        return member_get_by_number(member_number=data["member_number"], **viewer(request))
    if required:
        # 422: the schema of every input that always needs a member says so (MEMBER_REQUIRED);
        # a return needs one only when it names no original purchase.
        raise DjangoValidationError({"member_id": ["Give member_id or member_number."]})
    return None


class LineSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0.001"))
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0"))
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False
    )


MONEY: dict[str, Any] = {
    "max_digits": 11,
    "decimal_places": 2,
    "min_value": Decimal("0.01"),
    "max_value": Decimal("999999999.99"),
}


def _lines(data: list[dict]) -> list[LineInput]:
    return [LineInput(**line) for line in data]


def store_from_request(code: str | None, request: Request | None = None) -> Store | None:
    """The store a body names (422 when unknown), else the store of a store-bound API key."""
    if not code:
        # a store-bound API key reports for its store (naming another is refused with 403)
        client = api_client_of(request) if request is not None else None
        return client.store if client is not None else None
    store = Store.objects.filter(code=code.upper()).first()
    if store is None:  # well formed, but no such store: 422
        raise DjangoValidationError({"store": [f"Unknown store {code!r}."]})
    return store


def idempotency_header(request: Request) -> str:
    """The Idempotency-Key header as documented (1 to 64 characters), or "" when not sent."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return ""
    if not 1 <= len(value) <= 64:
        raise serializers.ValidationError({"Idempotency-Key": ["Give 1 to 64 characters."]})
    return value


def _external_id(request: Request, data: dict) -> str:
    header = idempotency_header(request)  # checked even when the body names the id
    value = data.get("external_id") or header
    # A rule across the body and a header, which OpenAPI cannot state: 422 when broken.
    if not value:
        raise DjangoValidationError(
            {"external_id": ["Give external_id (or an Idempotency-Key header)."]}
        )
    if len(value) > 64:
        raise DjangoValidationError({"external_id": ["At most 64 characters."]})
    return value


class BalanceSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="available + pending - debt")
    available = serializers.IntegerField()
    pending = serializers.IntegerField()
    debt = serializers.IntegerField()
    lifetime_earned = serializers.IntegerField()
    next_expiry_date = serializers.DateField(allow_null=True)
    next_expiry_points = serializers.IntegerField()
    expiring_now = serializers.IntegerField(
        source="awaiting_expiry",
        help_text=(
            "Points past their expiry that the nightly job has not yet taken: not spendable and "
            "not in balance."
        ),
    )


class PostingOutputSerializer(serializers.Serializer):
    transaction_id = serializers.IntegerField()
    kind = serializers.CharField()
    created = serializers.BooleanField(help_text="False when this replays an earlier request.")
    points_earned = serializers.IntegerField()
    points_pending = serializers.IntegerField()
    points_reversed = serializers.IntegerField()
    points_refunded = serializers.IntegerField()
    points_uncollected = serializers.IntegerField(
        help_text="Purchase: points the caps withheld. Return (cap policy): points it should "
        "have taken back but were already spent."
    )
    rules = serializers.ListField(
        child=serializers.DictField(),
        help_text="Every step and rule that produced the points, bonus rules included.",
    )
    balance = BalanceSerializer(allow_null=True, help_text="null for an anonymous customer")


def _posting_data(result: Any) -> dict[str, Any]:
    member = result.transaction.member
    data = {
        "transaction_id": result.transaction.pk,
        "kind": result.transaction.kind,
        "created": result.created,
        "points_earned": result.points_earned,
        "points_pending": result.points_pending,
        "points_reversed": result.points_reversed,
        "points_refunded": result.points_refunded,
        "points_uncollected": result.points_uncollected,
        "rules": result.rules,
        "balance": _balance_of(result, member),
    }
    return PostingOutputSerializer(data).data


def _balance_of(result: Any, member: Any) -> Any:
    if member is None:
        return None
    known = getattr(result, "balance", None)  # a batch's: as the purchase left it
    return known if known is not None else account_balance(member=member, account=result.account)


def _posting_response(result: Any) -> Response:
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(_posting_data(result), status=code)


class PurchaseCreateApi(ApiAuthMixin, APIView):
    """Report a purchase; a member earns points by the rules. Replays are harmless."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(MemberRefMixin):
        channel = serializers.ChoiceField(choices=Transaction.Channel.choices)
        external_id = serializers.CharField(max_length=64, required=False)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)
        occurred_at = AwareDateTimeField(required=False)
        amount = serializers.DecimalField(**MONEY)
        points_spent = serializers.IntegerField(min_value=0, max_value=10**12, default=0)
        customer_ref = serializers.CharField(
            max_length=64, required=False, allow_blank=True, default=""
        )
        # drf-stubs omit max_length, which DRF hands to the ListSerializer of many=True
        lines = LineSerializer(many=True, required=False, max_length=500)  # type: ignore[call-arg]
        promo_code = serializers.CharField(
            max_length=40,
            required=False,
            allow_blank=True,
            default="",
            help_text="A promo code the customer gave. Unknown, inactive, expired or used-up "
            "codes are refused with a field error (nothing recorded).",
        )

    @extend_schema(
        operation_id="purchases_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PostingOutputSerializer, 200: PostingOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return _posting_response(_purchase(request, data, _external_id(request, data)))


def _purchase(request: Request, data: dict, external_id: str) -> Any:
    """One purchase of a request body, as the single and the batch endpoints record it."""
    return purchase_record(
        member=resolve_member(data, request, required=False),
        channel=data["channel"],
        external_id=external_id,
        occurred_at=data.get("occurred_at") or timezone.now(),
        amount=data["amount"],
        store=store_from_request(data.get("store"), request),
        lines=_lines(data.get("lines", [])),
        points_spent=data["points_spent"],
        customer_ref=data["customer_ref"],
        actor=request.user,
        promo_code=data["promo_code"],
    )


BATCH_MAX = 500


class BatchItemSerializer(PurchaseCreateApi.InputSerializer):
    external_id = serializers.CharField(
        max_length=64,
        help_text="The purchase's own idempotency key: sent again, the first result is replayed.",
    )


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the purchase in the request, from 0.")
    external_id = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["created", "replayed", "refused"],
        help_text="created: recorded now; replayed: recorded earlier under this external_id "
        "(the first result); refused: nothing recorded for this purchase (see error).",
    )
    status = serializers.IntegerField(
        help_text="The HTTP status the single purchase endpoint would have answered."
    )
    purchase = PostingOutputSerializer(
        allow_null=True, help_text="As the single endpoint answers; null when refused."
    )
    error = ErrorSerializer(
        allow_null=True,
        help_text="The standard error document the single endpoint would have answered; "
        "null unless refused.",
    )


class PurchaseBatchCreateApi(ApiAuthMixin, APIView):
    """Report up to 500 purchases at once (end-of-day till uploads, shop back-ends); an empty
    list is answered with no results.

    Each purchase is recorded or refused on its own, exactly as the single purchase endpoint
    would (same rules, campaigns, replays by external_id), in the order given; the answer lists
    one result per purchase. A body that does not match the schema is refused whole (400) and
    nothing is recorded."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(StrictSerializer):
        purchases = BatchItemSerializer(many=True, max_length=BATCH_MAX)  # type: ignore[call-arg]

    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        replayed = serializers.IntegerField()
        refused = serializers.IntegerField()
        results = BatchResultSerializer(many=True)

    @extend_schema(
        operation_id="purchases_batch_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        idempotency_header(request)  # checked as everywhere, even though each item has its key
        items = serializer.validated_data["purchases"]
        client = api_client_of(request)
        refs = _BatchRefs(request, items)  # members and stores: one query each
        purchases: list[BatchPurchase | Exception] = []
        for data in items:
            try:
                if client is not None:  # a store- or channel-bound key, item by item
                    binding_check(request, client, data)
                purchases.append(
                    BatchPurchase(
                        member=refs.member(data),
                        channel=data["channel"],
                        external_id=data["external_id"],
                        occurred_at=data.get("occurred_at") or timezone.now(),
                        amount=data["amount"],
                        store=refs.store(data.get("store")),
                        lines=_lines(data.get("lines", [])),
                        points_spent=data["points_spent"],
                        customer_ref=data["customer_ref"],
                        promo_code=data["promo_code"],
                    )
                )
            except Exception as exc:
                purchases.append(exc)
        context = {"view": self, "request": request}
        report = purchases_record_batch(
            purchases=purchases,
            actor=request.user,
            # not a refusal (answered None): a 500, as on the single endpoint
            refusal=lambda exc: exception_handler(exc, context) is not None,
        )
        results = []
        for index, (data, result) in enumerate(zip(items, report.results, strict=True)):
            row: dict[str, Any] = {"index": index, "external_id": data["external_id"]}
            if isinstance(result, Exception):
                answer = exception_handler(result, context)
                if answer is None:
                    raise result
                row |= {
                    "outcome": "refused",
                    "status": answer.status_code,
                    "purchase": None,
                    "error": answer.data,
                }
            else:
                row |= {
                    "outcome": "created" if result.created else "replayed",
                    "status": 201 if result.created else 200,
                    "purchase": _posting_data(result),
                    "error": None,
                }
            results.append(row)
        counts = {k: sum(r["outcome"] == k for r in results) for k in ("created", "replayed")}
        out = {**counts, "refused": len(results) - sum(counts.values()), "results": results}
        return Response(out)  # the purchases and errors are serialized already (as documented)


class _BatchRefs:
    """The members and stores a batch names, read once (as resolve_member and
    store_from_request would read them one purchase at a time, same refusals)."""

    def __init__(self, request: Request, items: list[dict]):
        self.request = request
        ids = {d["member_id"] for d in items if d.get("member_id")}
        numbers = {
            d["member_number"].strip()
            for d in items
            if not d.get("member_id") and d.get("member_number")
        }
        visible = member_list_for_staff(**viewer(request)).select_related(
            "home_store", "referred_by"
        )
        self.by_id = {m.pk: m for m in visible.filter(pk__in=ids)} if ids else {}
        self.by_number = (
            {m.member_number: m for m in visible.filter(member_number__in=numbers)}
            if numbers
            else {}
        )
        codes = {d["store"].upper() for d in items if d.get("store")}
        self.stores = {s.code: s for s in Store.objects.filter(code__in=codes)} if codes else {}

    def member(self, data: dict) -> Any:
        if data.get("member_id"):
            found = self.by_id.get(data["member_id"])
            if found is None:
                raise MemberNotFound()
            return found
        if data.get("member_number"):
            number = data["member_number"].strip()
            if not is_valid_member_number(number):
                raise InvalidCardNumber()
            found = self.by_number.get(number)
            if found is None:
                raise MemberNotFound()
            return found
        return None

    def store(self, code: str | None) -> Store | None:
        if not code:
            return store_from_request(code, self.request)  # a store-bound key's store
        store = self.stores.get(code.upper())
        if store is None:  # well formed, but no such store: 422 (as store_from_request)
            raise DjangoValidationError({"store": [f"Unknown store {code!r}."]})
        return store


class ReturnCreateApi(ApiAuthMixin, APIView):
    """Report a return, against its purchase (original_external_id) or alone (base rate)."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(MemberRefMixin):
        # a return names its purchase, or else the member it belongs to
        schema_constraints = {
            "anyOf": [*MEMBER_REQUIRED["anyOf"], {"required": ["original_external_id"]}]
        }
        channel = serializers.ChoiceField(choices=Transaction.Channel.choices)
        external_id = serializers.CharField(max_length=64, required=False)
        original_channel = serializers.ChoiceField(
            choices=Transaction.Channel.choices, required=False
        )
        original_external_id = serializers.CharField(max_length=64, required=False)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)
        occurred_at = AwareDateTimeField(required=False)
        amount = serializers.DecimalField(**MONEY)
        # drf-stubs omit max_length, which DRF hands to the ListSerializer of many=True
        lines = LineSerializer(many=True, required=False, max_length=500)  # type: ignore[call-arg]

    @extend_schema(
        operation_id="returns_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PostingOutputSerializer, 200: PostingOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        original = None
        if data.get("original_external_id"):
            original = transaction_get(
                channel=data.get("original_channel") or data["channel"],
                external_id=data["original_external_id"],
            )
            if original is None or not member_visible(
                member_id=original.member_id, **viewer(request)
            ):
                raise OriginalTransactionNotFound(
                    extra={"original_external_id": data["original_external_id"]}
                )
        member = resolve_member(data, request, required=original is None)
        result = return_record(
            channel=data["channel"],
            external_id=_external_id(request, data),
            occurred_at=data.get("occurred_at") or timezone.now(),
            amount=data["amount"],
            original=original,
            member=member,
            store=store_from_request(data.get("store"), request),
            lines=_lines(data.get("lines", [])),
            actor=request.user,
        )
        return _posting_response(result)


class EarnQuoteApi(ApiAuthMixin, APIView):
    """What a basket would earn, without recording anything."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(MemberRefMixin):
        channel = serializers.ChoiceField(choices=Transaction.Channel.choices)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)
        amount = serializers.DecimalField(**MONEY)
        points_spent = serializers.IntegerField(min_value=0, max_value=10**12, default=0)
        # drf-stubs omit max_length, which DRF hands to the ListSerializer of many=True
        lines = LineSerializer(many=True, required=False, max_length=500)  # type: ignore[call-arg]

    class OutputSerializer(serializers.Serializer):
        eligible_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
        points = serializers.IntegerField()
        bonus_points = serializers.IntegerField()
        total = serializers.IntegerField()
        rules = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        operation_id="earn_quote", request=InputSerializer, responses={200: OutputSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = earn_quote(
            member=resolve_member(data, request, required=False),
            channel=data["channel"],
            amount=data["amount"],
            store=store_from_request(data.get("store"), request),
            lines=_lines(data.get("lines", [])),
            points_spent=data["points_spent"],
        )
        out = {
            "eligible_amount": result.eligible_amount,
            "points": result.points,
            "bonus_points": result.total - result.points,
            "total": result.total,
            "rules": result.explanation(),
        }
        return Response(self.OutputSerializer(out).data)


class BalanceApi(ApiAuthMixin, APIView):
    required_scope = MEMBERS_READ

    @extend_schema(operation_id="member_balance", responses={200: BalanceSerializer})
    def get(self, request: Request, member_id: int) -> Response:
        balance = account_balance(member=member_get(member_id=member_id, **viewer(request)))
        return Response(BalanceSerializer(balance).data)


class ActorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["staff", "api_client"])
    id = serializers.IntegerField(help_text="The staff user's or the API client's id.")
    name = serializers.CharField(help_text="Username, or the API client's name.")


class EntrySerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField(
        help_text="Who made the entry: a staff user or an API client (null: the system)."
    )

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_created_by(self, entry: LedgerEntry) -> dict[str, Any] | None:
        user = entry.created_by
        if user is None:
            return None
        client = getattr(user, "api_client", None)
        if client is not None:
            return {"kind": "api_client", "id": client.pk, "name": client.name}
        return {"kind": "staff", "id": user.pk, "name": user.get_username()}

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "effective_at",
            "source_type",
            "source_id",
            "reason",
            "rules",
            "reverses",
            "created_by",
        ]
        read_only_fields = fields


class StatementApi(ApiAuthMixin, APIView):
    required_scope = MEMBERS_READ

    class FilterSerializer(StrictSerializer):
        kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices, required=False)
        since = AwareDateTimeField(required=False)
        until = AwareDateTimeField(required=False)

    @extend_schema(
        operation_id="member_statement",
        parameters=[
            FilterSerializer,
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: paginated(EntrySerializer)},
    )
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        entries = account_statement(member=member, **params.validated_data)
        return paginate(view=self, queryset=entries, serializer_class=EntrySerializer)


class CanAdjustPoints(BasePermission):
    message = _("Adjusting points needs the 'adjust points' permission.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("ledger.adjust_points"))


class AdjustmentCreateApi(ApiAuthMixin, APIView):
    """A manual points correction by staff, with a reason; idempotent on its key."""

    required_scope = None  # staff only: no API key adjusts points

    extra_permission_classes = (CanAdjustPoints,)
    idempotency_body_field = "idempotency_key"  # or the Idempotency-Key header

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        points = NonZeroIntegerField(min_value=-(10**9), max_value=10**9)
        reason = serializers.CharField(max_length=255)
        idempotency_key = serializers.CharField(max_length=100, required=False)

    @extend_schema(
        operation_id="adjustments_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: EntrySerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        header = idempotency_header(request)
        key = data.get("idempotency_key") or header
        if not key:  # body or header: a rule OpenAPI cannot state, so 422
            raise DjangoValidationError(
                {"idempotency_key": ["Give idempotency_key or an Idempotency-Key header."]}
            )
        entry = points_adjust(
            member=resolve_member(data, request),
            points=data["points"],
            reason=data["reason"],
            actor=request.user,
            idempotency_key=f"api:{key}"[:120],
        )
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)
