"""One filtering and ordering style: `?field=value` for the filters a view declares, `?ordering=field` or
`?ordering=-field` among its `ordering_fields`. A bad value is a 400 naming the parameter."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter

from config.env import parse_flag


@dataclass(frozen=True)
class Filter:
    lookup: str
    kind: str = "string"  # string | integer | boolean
    choices: tuple[str, ...] = ()
    description: str = ""

    def clean(self, name: str, value: str):
        if "\x00" in value or len(value) > 1024:
            raise ValidationError({name: "Not a valid value."})
        if self.kind == "integer":
            try:
                return int(value)
            except ValueError as exc:
                raise ValidationError({name: "A whole number is required."}) from exc
        if self.kind == "boolean":
            flag = parse_flag(value)
            if flag is None:
                raise ValidationError({name: "Use true or false."})
            return flag
        if self.choices and value not in self.choices:
            raise ValidationError({name: f"Must be one of {', '.join(self.choices)}."})
        return value


class QueryFilter(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        for name, spec in getattr(view, "filters", {}).items():
            value = request.query_params.get(name)
            if value is None or value == "":
                continue
            queryset = queryset.filter(**{spec.lookup: spec.clean(name, value)})
        return queryset

    def get_schema_operation_parameters(self, view):
        params = []
        for name, spec in getattr(view, "filters", {}).items():
            schema = {"type": spec.kind}
            if spec.choices:
                schema["enum"] = list(spec.choices)
            params.append(
                {"name": name, "required": False, "in": "query", "description": spec.description, "schema": schema}
            )
        return params


class Ordering(OrderingFilter):
    """DRF's ordering filter, refusing (400) a field not offered instead of silently ignoring it."""

    ordering_description = "Sort by one of the listed fields; prefix with - for descending."

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            allowed = {f for f in getattr(view, "ordering_fields", ())}
            asked = [p.strip() for p in params.split(",") if p.strip()]
            bad = [p for p in asked if p.lstrip("-") not in allowed]
            if bad or len(asked) != 1:
                raise ValidationError(
                    {self.ordering_param: f"Order by one of: {', '.join(sorted(allowed)) or 'nothing here'}."}
                )
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view):
        fields = list(getattr(view, "ordering_fields", ()))
        if not fields:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": self.ordering_description,
                "schema": {"type": "string", "enum": [*fields, *(f"-{f}" for f in fields)]},
            }
        ]
