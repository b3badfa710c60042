"""Shapes of the review API's requests. Responses are the selectors' JSON-ready dicts."""

from rest_framework import serializers

from reviewer.imaging.geometry import Box
from reviewer.models import ReviewBox, ReviewCandidate
from reviewer.services.errors import ServiceError
from reviewer.services.review import BoxFate, CandidateFate

# Far more boxes than any photograph holds; stops a runaway client from writing a million rows.
MAX_BOXES = 2000


class BoxFateSerializer(serializers.Serializer):
    proposal = serializers.IntegerField(required=False, allow_null=True, default=None)
    fate = serializers.ChoiceField(choices=ReviewBox.Fate.choices)
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False, allow_null=True, default=None
    )


class CandidateFateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    fate = serializers.ChoiceField(choices=ReviewCandidate.Fate.choices)


class ReviewSubmitSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64, allow_blank=True, default="")
    revision = serializers.IntegerField(min_value=0)
    boxes = BoxFateSerializer(many=True, max_length=MAX_BOXES)
    has_no_faces = serializers.BooleanField(default=False)
    is_unsure = serializers.BooleanField(default=False)
    seconds_spent = serializers.FloatField(min_value=0, max_value=10**7, default=0)
    # One per save, the same on a retry of that save: a retry after a lost answer is answered as saved.
    request_id = serializers.RegexField(r"^[A-Za-z0-9_-]{8,64}$", required=False, allow_null=True, default=None)
    candidates = CandidateFateSerializer(many=True, max_length=MAX_BOXES, required=False, default=list)

    def fates(self) -> list[BoxFate]:
        return [
            BoxFate(fate=b["fate"], proposal_id=b["proposal"], box=Box(*b["box"]) if b["box"] else None)
            for b in self.validated_data["boxes"]
        ]

    def candidate_fates(self) -> list[CandidateFate]:
        return [CandidateFate(candidate_id=c["id"], fate=c["fate"]) for c in self.validated_data["candidates"]]


class NextImageSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, allow_null=True, default=None)
    exclude = serializers.ListField(child=serializers.IntegerField(), max_length=100, required=False, default=list)


def validated(serializer_class, data):
    """Validate or raise one 400 whose sentence names the fields, so the page can show it as it is."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ServiceError(f"The request has errors: {_flatten(serializer.errors)}", errors=serializer.errors)
    return serializer


def _flatten(errors, prefix: str = "") -> str:
    parts = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            parts.append(_flatten(value, f"{prefix}{key}." if key != "non_field_errors" else prefix))
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            if isinstance(value, dict | list):
                if value:
                    parts.append(_flatten(value, f"{prefix}{i}."))
            else:
                parts.append(f"{prefix.rstrip('.')}: {value}" if prefix else str(value))
    else:
        parts.append(f"{prefix.rstrip('.')}: {errors}")
    return "; ".join(p for p in parts if p)
