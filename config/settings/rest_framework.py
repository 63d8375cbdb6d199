"""Django REST framework and drf-spectacular."""

REST_FRAMEWORK = {
    # What every view under ApiAuthMixin (loyalty/core/api/mixins.py) uses; PublicApiMixin is the
    # named escape hatch. Token first, so an anonymous request gets 401 with WWW-Authenticate
    # rather than 403. The API-key classes are named here because core may not import
    # integrations (docs/architecture.md).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "loyalty.core.api.tokens.StaffTokenAuthentication",
        "loyalty.integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "loyalty.integrations.permissions.HasRequiredScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["loyalty.integrations.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.core.api.parsers.StrictJSONParser"],  # no duplicate keys
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "loyalty.core.api.query.StrictContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "loyalty.core.api.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "loyalty.core.api.schema.LoyaltyAutoSchema",
    "EXCEPTION_HANDLER": "loyalty.core.api.exception_handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty back office API",
    "DESCRIPTION": (
        "Members, points ledger, tiers, rewards and vouchers for POS, web shop and apps. "
        "Every error is rendered as {code, message, extra}; validation errors carry "
        "per-field messages under extra.fields."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "EnrolmentChannelEnum": "members.models.Member.Channel",
        "MemberStatusEnum": "members.models.Member.Status",
        "MemberIdentityKindEnum": "members.models.MemberIdentity.Kind",
        "TransactionChannelEnum": "loyalty.ledger.models.Transaction.Channel",
        "LedgerEntryKindEnum": "loyalty.ledger.models.LedgerEntry.Kind",
        "RedemptionChannelEnum": "rewards.models.Redemption.Channel",
        "RedemptionStatusEnum": "rewards.models.Redemption.Status",
        "RedemptionKindEnum": "rewards.models.Redemption.Kind",
        "VoucherStatusEnum": "rewards.models.Voucher.Status",
        "RewardKindEnum": "rewards.models.Reward.Kind",
        "RewardVisibilityEnum": "rewards.models.Reward.Visibility",
        "FeedbackChannelEnum": "campaigns.service.models.Feedback.Channel",
        "FeedbackKindEnum": "campaigns.service.models.Feedback.Kind",
        "FeedbackStatusEnum": "campaigns.service.models.Feedback.Status",
        "ClubMembershipStatusEnum": "campaigns.membership.models.ClubMembership.Status",
        "ClubTermKindEnum": "campaigns.membership.models.ClubTerm.Kind",
        "WheelPrizeKindEnum": "campaigns.games.models.WheelPrize.Kind",
        "BadgeRuleKindEnum": "campaigns.engagement.models.BadgeRule.Kind",
    },
}
