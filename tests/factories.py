"""Factories for every model. Images are real encoded files whose sha256 and size match their bytes."""

from __future__ import annotations

import zlib
from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from factory.django import DjangoModelFactory

from crowd import models as crowd_models
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


# A release bound that lets any estimate through (Veil's default is 0.02): for datasets in tests of rendering,
# storage and workers, not of the release gate, which refuses a dataset without gold or audit evidence.
ANY_LEAK_RATE = 1.0


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
            content = jpeg_bytes(64, 48, seed=zlib.crc32(kwargs["relative_path"].encode()))
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


class DetectionResultFactory(DjangoModelFactory):
    class Meta:
        model = models.DetectionResult

    run = factory.SubFactory(DetectionRunFactory)
    image = factory.SubFactory(ImageFactory)
    status = models.DetectionResult.Status.DONE
    face_count = 1


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


class CandidateFactory(DjangoModelFactory):
    """A region under the proposal threshold; pass run= the dataset's current run for it to reach the page."""

    class Meta:
        model = models.Candidate

    image = factory.SubFactory(ImageFactory)
    run = factory.SubFactory(DetectionRunFactory, dataset=factory.SelfAttribute("..image.dataset"))
    ordinal = factory.Sequence(lambda n: n)
    score = 0.2
    source = models.Candidate.Source.LOW_SCORE
    x0 = 40.0
    y0 = 20.0
    x1 = 56.0
    y1 = 38.0


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
    """A current review of `image` by `reviewer`: each of `boxes` added, each of `deleted` a deleted proposal.

    Keeps the geometric summaries (agreement, the approval queue's review_attention) as review_submit does."""
    from reviewer.services.summaries import image_current_reviews, summaries_apply

    before = image_current_reviews(image_id=image.pk)
    review = ReviewFactory(image=image, reviewer=reviewer, **flags)
    for b in boxes:
        ReviewBoxFactory(review=review, fate=models.ReviewBox.Fate.ADDED, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
    for b in deleted:
        proposal = ProposalFactory(image=image, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
        ReviewBoxFactory(
            review=review, proposal=proposal, fate=models.ReviewBox.Fate.DELETED, x0=b[0], y0=b[1], x1=b[2], y1=b[3]
        )
    summaries_apply(before=before, after=image_current_reviews(image_id=image.pk))
    return review


# --- crowd onboarding ---------------------------------------------------------------------------------------


class CrowdSetupFactory(DjangoModelFactory):
    class Meta:
        model = crowd_models.CrowdSetup

    dataset = factory.SubFactory(DatasetFactory)
    instructions = "Box every face, even tiny ones. Two faces side by side get two boxes."
    qualification_size = 2
    max_mistakes = 0
    max_tries = 2


class InviteFactory(DjangoModelFactory):
    class Meta:
        model = crowd_models.Invite

    dataset = factory.SubFactory(DatasetFactory)
    key = factory.Sequence(lambda n: f"{n:032x}")
    created_by = factory.SubFactory(AdminFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    max_uses = 10


FACE = (40.0, 30.0, 120.0, 130.0)


def crowd_study(*, gold: int = 3, pool_images: int = 3, size: tuple[int, int] = (320, 240), **setup):
    """A dataset ready for crowd workers: a current detection run, `gold` gold images with one known face
    (FACE) and a proposal on it, a pool batch of `pool_images` images with one proposal each, a CrowdSetup."""
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save(update_fields=["current_detection_run"])
    golds = []
    for n in range(gold):
        image = ImageFactory(
            dataset=dataset, content=jpeg_bytes(*size, seed=100 + n), is_gold=True, relative_path=f"gold/g{n}.jpg"
        )
        GoldBoxFactory(image=image, x0=FACE[0], y0=FACE[1], x1=FACE[2], y1=FACE[3])
        ProposalFactory(image=image, run=run, ordinal=0, x0=FACE[0], y0=FACE[1], x1=FACE[2], y1=FACE[3])
        golds.append(image)
    batch = BatchFactory(dataset=dataset, is_pool=True, name="pool-001")
    for n in range(pool_images):
        image = ImageFactory(
            dataset=dataset,
            content=jpeg_bytes(*size, seed=200 + n),
            status=models.Image.Status.DETECTED,
            relative_path=f"pool/p{n}.jpg",
        )
        ProposalFactory(image=image, run=run, ordinal=0, x0=50, y0=40, x1=110, y1=120)
        BatchItemFactory(batch=batch, image=image, position=n)
    CrowdSetupFactory(dataset=dataset, **setup)
    return dataset, batch, golds


class InstructionExampleFactory(DjangoModelFactory):
    class Meta:
        model = crowd_models.InstructionExample

    dataset = factory.SubFactory(DatasetFactory)
    image = factory.SubFactory(ImageFactory, dataset=factory.SelfAttribute("..dataset"))
    caption = "Two faces side by side: one box each."
