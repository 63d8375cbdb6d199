from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.api.mixins import ApiAuthMixin, PublicApiMixin
from loyalty.core.api.schema import ErrorSerializer
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.api.tokens import staff_token_expires_at, staff_token_issue
from loyalty.core.exceptions import ApplicationError
from loyalty.core.scopes import AUTHENTICATED
from loyalty.core.selectors import health_report


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    http_status = 401  # credentials refused: the request itself was well formed
    default_message = _("Unable to log in with the given username and password.")


class TokenCreateApi(PublicApiMixin, APIView):
    """Exchange a staff username and password for an API token (sent as `Authorization: Token ...`)."""

    throttle_scope = "token"

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        rotate = serializers.BooleanField(
            default=False,
            help_text="true: replace the current token now (the old one is refused from then on).",
        )

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField(
            allow_null=True, help_text="When the token stops working; null: no limit."
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Wrong username or password."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request=request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise InvalidCredentials()
        token = staff_token_issue(user=user, rotate=data["rotate"])
        out = {"token": token.key, "expires_at": staff_token_expires_at(token)}
        return Response(self.OutputSerializer(out).data)


class WhoAmIApi(ApiAuthMixin, APIView):
    required_scope = AUTHENTICATED

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        is_staff = serializers.BooleanField()
        groups = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        user = request.user
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "is_staff": user.is_staff,
            "groups": list(user.groups.values_list("name", flat=True)),
        }
        return Response(self.OutputSerializer(data).data)


class HealthApi(PublicApiMixin, APIView):
    """Liveness and readiness: 200 when every part is reachable, 503 naming the part that is not."""

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {"status": serializers.CharField(), "checks": serializers.DictField()},
            ),
            (503, "application/json"): inline_serializer(
                "HealthDown",
                {"status": serializers.CharField(), "checks": serializers.DictField()},
            ),
        }
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        body = {"status": "ok" if report["healthy"] else "down", "checks": report["checks"]}
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code)
