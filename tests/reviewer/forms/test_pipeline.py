"""The dataset, detection and export forms use the API's ranges and the services' words."""

import json

import pytest
from django.urls import reverse

from reviewer.forms.pipeline import DetectionStartForm, ExportStartForm
from reviewer.models import Dataset, DetectionRun, Export, Image
from tests.factories import ANY_LEAK_RATE, ApprovalFactory, DatasetFactory, ImageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"threshold": "-0.1"}, "threshold must lie between 0 and 1."),
        ({"long_side": "16"}, "long_side must be a whole number from 32 to 4096."),
        ({"detector": "magic"}, "Unknown detector “magic”: choose one of"),
    ],
)
def test_detection_form_refusals_reach_the_dataset_page(admin_client, data, text):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    response = admin_client.post(reverse("detection-start", args=[dataset.pk]), data, follow=True)
    assert text in response.content.decode()
    assert not DetectionRun.objects.exists()


def test_detection_form_types_its_settings():
    form = DetectionStartForm({"threshold": "0.3", "long_side": "640", "thorough": "on"})
    assert form.is_valid()
    assert form.settings() == {"threshold": 0.3, "long_side": 640, "thorough": True, "recall": False}
    form = DetectionStartForm({"recall": "on"})
    assert form.is_valid()
    assert form.settings() == {"threshold": None, "long_side": None, "thorough": False, "recall": True}


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"jpeg_quality": "0"}, "JPEG quality must be between 1 and 100."),
        ({"archive": "rar"}, "Archive must be one of zip, tar, webdataset, folder, hf; got &#x27;rar&#x27;."),
        ({"annotations": ["coco", "voc"]}, "Annotation formats must be among imagenet-json, coco, csv; got voc."),
    ],
)
def test_export_form_refusals_reach_the_dataset_page(admin_client, data, text):
    dataset = DatasetFactory()
    ApprovalFactory(image=ImageFactory(dataset=dataset, status=Image.Status.APPROVED))
    response = admin_client.post(reverse("export-start", args=[dataset.pk]), data, follow=True)
    assert text in response.content.decode()
    assert not Export.objects.exists()


def test_export_form_leaves_blank_options_to_the_defaults():
    form = ExportStartForm({"jpeg_quality": "", "blur": ""})
    assert form.is_valid()
    assert form.options() == {
        "blur": None, "archive": None, "shard_size": None, "annotations": [], "jpeg_quality": None,
        "fail_on_residual": False, "leak_views": True, "people": None,
    }  # fmt: skip


# The same bad input, as the page's form posts it (texts) and as an API client sends it (JSON numbers where a
# number is meant): one sentence, the export service's, on both.
SAME_REFUSALS = [
    ({"blur": "smudge"}, "Blur must be one of gaussian, imagenet, pixelate, fill; got 'smudge'."),
    ({"archive": "rar"}, "Archive must be one of zip, tar, webdataset, folder, hf; got 'rar'."),
    ({"people": "everyone"}, "People must be pseudonyms or names; got 'everyone'."),
    ({"annotations": ["coco", "voc"]}, "Annotation formats must be among imagenet-json, coco, csv; got voc."),
    ({"jpeg_quality": "0"}, "JPEG quality must be between 1 and 100."),
    ({"jpeg_quality": "high"}, "JPEG quality, shard size and leak threshold must be numbers."),
    ({"archive": "webdataset", "shard_size": "0"}, "Shard size must be between 1 and 100000."),
    ({"archive": "webdataset", "shard_size": "100001"}, "Shard size must be between 1 and 100000."),
    ({"archive": "webdataset", "shard_size": "many"}, "JPEG quality, shard size and leak threshold must be numbers."),
]


def _as_json(data: dict) -> dict:
    return {key: int(value) if isinstance(value, str) and value.isdigit() else value for key, value in data.items()}


@pytest.mark.parametrize(("data", "sentence"), SAME_REFUSALS)
def test_the_export_form_and_the_api_refuse_the_same_input_with_the_same_sentence(admin_client, data, sentence):
    dataset = DatasetFactory()
    ApprovalFactory(image=ImageFactory(dataset=dataset, status=Image.Status.APPROVED))
    form = ExportStartForm(data)
    assert not form.is_valid()
    assert form.non_field_errors() == [sentence]
    page = admin_client.post(reverse("export-start", args=[dataset.pk]), data, follow=True)
    assert [str(m) for m in page.context["messages"]] == [sentence]
    api = admin_client.post(
        reverse("api-dataset-exports", args=[dataset.pk]), _as_json(data), content_type="application/json"
    )
    assert (api.status_code, api.json()) == (400, {"detail": sentence, "code": "invalid_option"})
    assert not Export.objects.exists()


def test_the_page_offers_every_layout_and_a_shard_size_that_reaches_the_export(
    admin_client, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE)
    ApprovalFactory(image=ImageFactory(dataset=dataset, status=Image.Status.APPROVED))
    page = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    for layout in ("zip", "tar", "webdataset", "folder", "hf"):
        assert f'<option value="{layout}"' in page
    assert '<input type="number" name="shard_size" value="1000" min="1" max="100000"' in page
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse("export-start", args=[dataset.pk]), {"archive": "webdataset", "shard_size": "250"})
    assert (Export.objects.get().options["archive"], Export.objects.get().options["shard_size"]) == ("webdataset", 250)


def test_dataset_name_form_answers_the_uploader_in_json(admin_client):
    response = admin_client.post(reverse("dataset-create"), {"name": "x" * 201}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert json.loads(response.content)["detail"] == "A dataset name must be at most 200 characters."
    response = admin_client.post(reverse("dataset-create"), {"name": "   "}, follow=True)
    assert "A dataset needs a name." in response.content.decode()
    assert not Dataset.objects.exists()
