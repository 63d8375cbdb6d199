from rest_framework.pagination import LimitOffsetPagination


class DefaultPagination(LimitOffsetPagination):
    """limit/offset paging on every list; a hard ceiling keeps one request cheap."""

    default_limit = 50
    max_limit = 500


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
