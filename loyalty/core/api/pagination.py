import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

# How the schema documents the two paging parameters (LoyaltyAutoSchema adds the bounds).
MAX_OFFSET = 2_000_000_000
PAGE_PARAMETER_BOUNDS = {
    "limit": {"minimum": 1, "maximum": 500},
    "offset": {"minimum": 0, "maximum": MAX_OFFSET},
}


class DefaultPagination(LimitOffsetPagination):
    """limit/offset paging on every list; a hard ceiling keeps one request cheap.

    Out-of-range or malformed values are a 400 naming the parameter, not silently replaced by
    the default (DRF's behaviour), so a client bug shows at once.
    """

    default_limit = 50
    max_limit = 500

    def get_limit(self, request: Any) -> int:
        return self._bounded(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request: Any) -> int:
        return self._bounded(request, self.offset_query_param, 0, 0, MAX_OFFSET)

    def _bounded(
        self, request: Any, name: str, default: int, minimum: int, maximum: int | None
    ) -> int:
        values = request.query_params.getlist(name)
        if not values:
            return default
        raw = values[-1]
        if (
            len(values) > 1
            or not re.fullmatch(r"\d{1,18}", raw)
            or int(raw) < minimum
            or (maximum is not None and int(raw) > maximum)
        ):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise ValidationError({name: [f"Give one whole number of at least {minimum}{upper}."]})
        return int(raw)


_PAGINATED: dict[type, type] = {}


def paginated(serializer_class: type) -> type:
    """The OpenAPI shape of a paged list of `serializer_class` ({count, next, previous, results})."""
    from rest_framework import serializers

    if serializer_class not in _PAGINATED:
        name = serializer_class.__name__.removesuffix("Serializer")
        _PAGINATED[serializer_class] = type(
            f"Paginated{name}ListSerializer",
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
            },
        )
    return _PAGINATED[serializer_class]
