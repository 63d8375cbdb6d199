from rest_framework.pagination import LimitOffsetPagination


class DefaultPagination(LimitOffsetPagination):
    """limit/offset paging on every list; a hard ceiling keeps one request cheap."""

    default_limit = 50
    max_limit = 500
