"""The safety net over HTTP (admins only): flagged regions, the release gate, and actions on leak-check finds."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.base import AdminView, get_or_404, validated
from reviewer.models import Dataset, Export, Leak, User
from reviewer.selectors.safety import flagged_regions
from reviewer.services.blind_audit import audit_start
from reviewer.services.gate import gate_check
from reviewer.services.leaks import leak_dismiss, leaks_send_back

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


class AuditStartSerializer(serializers.Serializer):
    auditor = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), help_text="Username of the reviewer who audits, blind."
    )
    rate = serializers.FloatField(
        required=False, min_value=0.0001, max_value=1, help_text="Set the dataset's audit rate first (0-1]."
    )
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class AuditBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    images = serializers.IntegerField()
    auditor = serializers.CharField()


class DatasetAuditStartView(AdminView):
    """POST {auditor, rate?, seed?}: draw a blind audit of the dataset's approved images (the dataset's audit
    rate, or `rate`) as a batch assigned to `auditor`, who did not review them. The faces they box that the
    approval missed count in the release gate. 201 with the batch; 409 when no approved image is left that
    the auditor could audit blind."""

    @extend_schema(request=AuditStartSerializer, responses={201: AuditBatchSerializer})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        data = validated(AuditStartSerializer, request.data)
        batch = audit_start(dataset=dataset, auditor=data["auditor"], actor=request.user, rate=data.get("rate"),
                            seed=data.get("seed"))  # fmt: skip
        body = {"id": batch.pk, "name": batch.name, "images": batch.items.count(), "auditor": data["auditor"].username}
        return Response(body, status=status.HTTP_201_CREATED)


class LeakSendBackSerializer(serializers.Serializer):
    leaks = serializers.ListField(child=serializers.IntegerField(), required=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("leaks"):
            raise serializers.ValidationError("Give `leaks` (ids) or `all: true`.")
        return attrs


class ExportSendBackView(AdminView):
    """POST {"leaks": [ids]} or {"all": true}: send the images of those open finds back to review."""

    @extend_schema(request=LeakSendBackSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        export = get_or_404(Export, pk)
        body = validated(LeakSendBackSerializer, request.data)
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
    path("datasets/<int:pk>/audits/", DatasetAuditStartView.as_view(), name="api-dataset-audit-start"),
    path("exports/<int:pk>/send-back/", ExportSendBackView.as_view(), name="api-export-send-back"),
    path("leaks/<int:pk>/dismiss/", LeakDismissView.as_view(), name="api-leak-dismiss"),
]
