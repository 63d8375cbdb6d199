"""Serializer bases shared by the API apps."""

import copy
from typing import Any

from rest_framework import serializers


class ReadModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer for output whose fields are built from the model once per process.

    DRF builds a ModelSerializer's fields from the model's metadata on every instance (field
    kwargs, validators, unique checks): on the clerk lookup that was a sixth of the request's
    Python. Here the built fields are kept per class and each instance gets a deep copy, as a
    plain Serializer does with its declared fields. Only for serializers whose fields do not
    depend on the instance, the data or the request context (get_fields must not read them).
    """

    _built_fields: dict[type, dict[str, Any]] = {}

    def get_fields(self) -> dict[str, Any]:
        built = ReadModelSerializer._built_fields.get(type(self))
        if built is None:
            built = ReadModelSerializer._built_fields[type(self)] = super().get_fields()
        return copy.deepcopy(built)
