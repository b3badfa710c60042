"""The dataset, detection and export forms use the API's ranges and the services' words."""

import json

import pytest
from django.urls import reverse

from reviewer.forms.pipeline import DetectionStartForm, ExportStartForm
from reviewer.models import Dataset, DetectionRun, Export, Image
from tests.factories import ApprovalFactory, DatasetFactory, ImageFactory

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
        ({"archive": "rar"}, "Archive must be zip or tar; got &#x27;rar&#x27;."),
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
        "blur": None, "archive": None, "annotations": [], "jpeg_quality": None, "fail_on_residual": False,
        "leak_views": True, "people": None,
    }  # fmt: skip


def test_dataset_name_form_answers_the_uploader_in_json(admin_client):
    response = admin_client.post(reverse("dataset-create"), {"name": "x" * 201}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert json.loads(response.content)["detail"] == "A dataset name must be at most 200 characters."
    response = admin_client.post(reverse("dataset-create"), {"name": "   "}, follow=True)
    assert "A dataset needs a name." in response.content.decode()
    assert not Dataset.objects.exists()
