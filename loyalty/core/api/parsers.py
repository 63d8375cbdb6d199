"""The API's JSON parser: DRF's, plus a refusal of duplicate keys.

`{"amount": "10.00", "amount": "-5"}` is valid JSON to Python's json module (the last key
wins), but two systems reading the same body can disagree on which value counts (a proxy or
log reads the first, we would book the second). Refusing it with a 400 removes the ambiguity.
NaN and Infinity are already refused by DRF's STRICT_JSON.

Nesting is limited too (MAX_JSON_DEPTH levels of arrays and objects; our deepest body, a
purchase with its lines, has 3): a body nested hundreds of levels deep would otherwise exhaust
Python's recursion limit in the parser or in whatever walks the data next, and answer 500. The
body's size is limited before it is read, by DATA_UPLOAD_MAX_MEMORY_SIZE (413).
"""

import codecs
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json

MAX_JSON_DEPTH = 32


class DuplicateKeyError(ValueError):
    pass


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests arrays/objects more than `limit` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(
                _("duplicate key %(key)s in a JSON object") % {"key": repr(key)}
            )
        result[key] = value
    return result


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            parse_constant = json.strict_constant if api_settings.STRICT_JSON else None
            data = json.loads(
                decoded.read(), parse_constant=parse_constant, object_pairs_hook=_unique_object
            )
        except ValueError as exc:  # includes UnicodeDecodeError: bytes that are not UTF-8
            raise ParseError(_("JSON parse error - %(exc)s") % {"exc": exc}) from exc
        except RecursionError:
            raise ParseError(self._too_deep) from None
        if json_depth_exceeds(data):
            raise ParseError(self._too_deep)
        return data

    _too_deep = f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep."
