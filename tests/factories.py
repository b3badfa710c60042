"""Factories for every model. Images are real encoded files whose sha256 and size match their bytes."""

from __future__ import annotations

import factory
from django.core.files.base import ContentFile
from factory.django import DjangoModelFactory

from reviewer import models
from reviewer.imaging.loading import sha256_of
from tests.images import jpeg_bytes


class UserFactory(DjangoModelFactory):
    class Meta:
        model = models.User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"reviewer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = models.User.Role.REVIEWER
    password = factory.django.Password("review-pass-123")


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    role = models.User.Role.ADMIN
    is_staff = True
    password = factory.django.Password("admin-pass-123")


class DatasetFactory(DjangoModelFactory):
    class Meta:
        model = models.Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")
    created_by = factory.SubFactory(AdminFactory)


class ImageFactory(DjangoModelFactory):
    """Pass `content=<bytes>` for a particular file; the default is a 64x48 JPEG unique per image."""

    class Meta:
        model = models.Image

    dataset = factory.SubFactory(DatasetFactory)
    relative_path = factory.Sequence(lambda n: f"photos/img_{n:05d}.jpg")
    status = models.Image.Status.NEW

    @classmethod
    def _create(cls, model_class, *args, content: bytes | None = None, **kwargs):
        import io

        from reviewer.imaging.encode import output_path
        from reviewer.imaging.loading import probe
        from reviewer.imaging.names import export_key

        if content is None:
            content = jpeg_bytes(64, 48, seed=abs(hash(kwargs["relative_path"])) % (2**32))
        info = probe(io.BytesIO(content))
        kwargs.setdefault("sha256", sha256_of(io.BytesIO(content)))
        kwargs.setdefault("file_size", len(content))
        kwargs.setdefault("format", info.format)
        kwargs.setdefault("width", info.width)
        kwargs.setdefault("height", info.height)
        kwargs.setdefault("orientation", info.orientation)
        kwargs.setdefault("export_key", export_key(output_path(kwargs["relative_path"], info.format)))
        image = model_class(*args, **kwargs)
        image.file.save(kwargs["relative_path"].rsplit("/", 1)[-1], ContentFile(content), save=False)
        image.save()
        return image


class DetectionRunFactory(DjangoModelFactory):
    class Meta:
        model = models.DetectionRun

    dataset = factory.SubFactory(DatasetFactory)
    detector = "centerface"
    settings = factory.LazyFunction(lambda: {"threshold": 0.2, "long_side": 832})
    status = models.DetectionRun.Status.DONE


class ProposalFactory(DjangoModelFactory):
    class Meta:
        model = models.Proposal

    image = factory.SubFactory(ImageFactory)
    run = factory.SubFactory(DetectionRunFactory, dataset=factory.SelfAttribute("..image.dataset"))
    ordinal = factory.Sequence(lambda n: n)
    score = 0.9
    x0 = 10.0
    y0 = 8.0
    x1 = 30.0
    y1 = 32.0


class BatchFactory(DjangoModelFactory):
    class Meta:
        model = models.Batch

    dataset = factory.SubFactory(DatasetFactory)
    name = factory.Sequence(lambda n: f"batch-{n}")


class BatchItemFactory(DjangoModelFactory):
    class Meta:
        model = models.BatchItem

    batch = factory.SubFactory(BatchFactory)
    image = factory.SubFactory(ImageFactory, dataset=factory.SelfAttribute("..batch.dataset"))
    position = factory.Sequence(lambda n: n)


class AssignmentFactory(DjangoModelFactory):
    class Meta:
        model = models.Assignment

    batch = factory.SubFactory(BatchFactory)
    reviewer = factory.SubFactory(UserFactory)
    assigned_by = factory.SubFactory(AdminFactory)


class ReviewFactory(DjangoModelFactory):
    class Meta:
        model = models.Review

    image = factory.SubFactory(ImageFactory)
    reviewer = factory.SubFactory(UserFactory)


class ReviewBoxFactory(DjangoModelFactory):
    class Meta:
        model = models.ReviewBox

    review = factory.SubFactory(ReviewFactory)
    fate = models.ReviewBox.Fate.ADDED
    x0 = 5.0
    y0 = 5.0
    x1 = 20.0
    y1 = 20.0


class ApprovalFactory(DjangoModelFactory):
    class Meta:
        model = models.Approval

    image = factory.SubFactory(ImageFactory, status=models.Image.Status.APPROVED)
    approved_by = factory.SubFactory(AdminFactory)
    source = models.Approval.Source.ADMIN


class ApprovedBoxFactory(DjangoModelFactory):
    class Meta:
        model = models.ApprovedBox

    approval = factory.SubFactory(ApprovalFactory)
    x0 = 10.0
    y0 = 8.0
    x1 = 30.0
    y1 = 32.0


class GoldBoxFactory(DjangoModelFactory):
    class Meta:
        model = models.GoldBox

    image = factory.SubFactory(ImageFactory, is_gold=True)
    x0 = 10.0
    y0 = 8.0
    x1 = 30.0
    y1 = 32.0


def make_review(image, reviewer, *boxes, deleted=(), **flags):
    """A current review of `image` by `reviewer`: each of `boxes` added, each of `deleted` a deleted proposal."""
    review = ReviewFactory(image=image, reviewer=reviewer, **flags)
    for b in boxes:
        ReviewBoxFactory(review=review, fate=models.ReviewBox.Fate.ADDED, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
    for b in deleted:
        proposal = ProposalFactory(image=image, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
        ReviewBoxFactory(
            review=review, proposal=proposal, fate=models.ReviewBox.Fate.DELETED, x0=b[0], y0=b[1], x1=b[2], y1=b[3]
        )
    return review
