"""The safety net over HTTP (admins only): flagged regions, the release gate, and actions on leak-check finds."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.base import AdminView, get_or_404, validated
from reviewer.models import Dataset, Export, Leak
from reviewer.services.gate import gate_check
from reviewer.services.safety import flagged_regions, leak_dismiss, leaks_send_back

PAGE_SIZE = 200


def _box(box) -> list[float]:
    return [round(v, 2) for v in box.as_list()]


class DatasetFlaggedView(AdminView):
    """GET: per image, every flagged region no final box covers (candidates, leak-check and audit finds), the
    same list as `export_annotations --boxes flagged`. Keyset pages in the API's one list shape: `next` is the
    URL of the following page (`?after=<last image id>`)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError as exc:
            raise serializers.ValidationError({"after": "An image id is required."}) from exc
        rows = flagged_regions(dataset=dataset, after_id=after, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        results = [
            {
                "image": image.pk,
                "path": image.relative_path,
                "width": image.width,
                "height": image.height,
                "needs_second_look": image.needs_second_look,
                "reasons": image.second_look_reasons,
                "regions": [
                    {"kind": r.kind, "box": _box(r.box), "score": round(r.score, 4), "id": r.ref} for r in flags.regions
                ],
            }
            for image, flags in rows
        ]
        following = (
            replace_query_param(request.build_absolute_uri(), "after", rows[-1][0].pk) if more and rows else None
        )
        return Response({"next": following, "previous": None, "results": results})


class DatasetReleaseGateView(AdminView):
    """GET: the release gate's estimate as an export started now would record it, with what to look at."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(gate_check(dataset=get_or_404(Dataset, pk)).as_dict())


class SendBackSerializer(serializers.Serializer):
    leaks = serializers.ListField(child=serializers.IntegerField(), required=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("leaks"):
            raise serializers.ValidationError("Give `leaks` (ids) or `all: true`.")
        return attrs


class ExportSendBackView(AdminView):
    """POST {"leaks": [ids]} or {"all": true}: send the images of those open finds back to review."""

    @extend_schema(request=SendBackSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        export = get_or_404(Export, pk)
        body = validated(SendBackSerializer, request.data)
        ids = None if body.get("all") else body["leaks"]
        result = leaks_send_back(export=export, actor=request.user, leak_ids=ids)
        return Response({"sent_back": result.sent_back, "skipped": result.skipped})


class LeakDismissView(AdminView):
    """POST: mark a leak-check find as not a face."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        leak = leak_dismiss(leak=get_or_404(Leak, pk, "leak-check find"), actor=request.user)
        return Response({"id": leak.pk, "resolution": leak.resolution, "image": leak.image_id})


urlpatterns = [
    path("datasets/<int:pk>/flagged/", DatasetFlaggedView.as_view(), name="api-dataset-flagged"),
    path("datasets/<int:pk>/release-gate/", DatasetReleaseGateView.as_view(), name="api-dataset-release-gate"),
    path("exports/<int:pk>/send-back/", ExportSendBackView.as_view(), name="api-export-send-back"),
    path("leaks/<int:pk>/dismiss/", LeakDismissView.as_view(), name="api-leak-dismiss"),
]
