"""Crowd onboarding: invite links, crowd workers, instructions, the qualification round and completion codes."""

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint

from reviewer.models.base import BoxFields, box_constraints


class CrowdSetup(models.Model):
    """How a dataset takes crowd workers: the instructions they read, the qualification round, the completion."""

    dataset = models.OneToOneField("reviewer.Dataset", on_delete=models.CASCADE, related_name="crowd_setup")
    instructions = models.TextField(
        blank=True, help_text="What counts as a face, tiny faces, adjacent faces, anything particular to this set."
    )
    # The qualification round: this many gold images; a try fails on its (max_mistakes + 1)-th mistake.
    qualification_size = models.PositiveSmallIntegerField(default=0, help_text="0: no qualification round.")
    max_mistakes = models.PositiveSmallIntegerField(default=2)
    max_tries = models.PositiveSmallIntegerField(default=3)
    # Pay sheet: reviewers whose gold miss rate is above this have their work held back for a look.
    miss_rate_limit = models.FloatField(default=0.2)
    # Where a finished worker is sent: {code} and {external_id} are filled in. Empty: show the code only.
    completion_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            CheckConstraint(condition=Q(max_tries__gte=1), name="crowd_setup_tries_positive"),
            CheckConstraint(condition=Q(miss_rate_limit__gte=0, miss_rate_limit__lte=1), name="crowd_setup_rate_unit"),
        ]


class InstructionExample(models.Model):
    """An example image shown with the instructions, with the boxes a reviewer is expected to draw on it."""

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="instruction_examples")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="+")
    caption = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["dataset_id", "position", "id"]
        constraints = [UniqueConstraint(fields=["dataset", "image"], name="instruction_example_unique_image")]


class InstructionExampleBox(BoxFields):
    example = models.ForeignKey(InstructionExample, on_delete=models.CASCADE, related_name="boxes")

    class Meta:
        ordering = ["example_id", "id"]
        constraints = [*box_constraints("instruction_example_box")]


class Invite(models.Model):
    """A link an admin hands out (on a platform or by mail) that turns whoever opens it into a reviewer."""

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="invites")
    key = models.CharField(max_length=32, unique=True)  # random; the URL carries it signed
    label = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField()
    uses = models.PositiveIntegerField(default=0)
    # How many images a worker reviews before they get their completion code; null: a whole pool batch.
    images_per_worker = models.PositiveIntegerField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            CheckConstraint(condition=Q(max_uses__gte=1), name="invite_max_uses_positive"),
            CheckConstraint(condition=Q(uses__lte=models.F("max_uses")), name="invite_uses_within_max"),
        ]


class CrowdWorker(models.Model):
    """A reviewer account made by an invite link; one per (platform, external id) when the platform sends one."""

    class Platform(models.TextChoices):
        MTURK = "mturk", "Mechanical Turk"
        PROLIFIC = "prolific", "Prolific"
        GENERIC = "generic", "Other"
        NONE = "none", "No platform id"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crowd_worker")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    external_id = models.CharField(max_length=64, blank=True)
    # sha256 of the secret set in the browser that made the account: a worker id alone is no key to it.
    browser_key_hash = models.CharField(max_length=64, blank=True, default="")
    first_invite = models.ForeignKey(Invite, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            UniqueConstraint(
                fields=["platform", "external_id"], condition=~Q(external_id=""), name="crowd_worker_unique_external"
            ),
        ]


class Participation(models.Model):
    """One worker's work under one invite: where they are, and the completion code once they finish."""

    invite = models.ForeignKey(Invite, on_delete=models.PROTECT, related_name="participations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations")
    created_at = models.DateTimeField(auto_now_add=True)
    # What the platform sent with the link (MTurk assignmentId/hitId/turkSubmitTo, Prolific STUDY_ID/SESSION_ID).
    platform_params = models.JSONField(default=dict, blank=True)
    # The pool batch the worker was sent to; finishing it (or images_per_worker reviews) completes the work.
    batch = models.ForeignKey("reviewer.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_code = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            UniqueConstraint(fields=["invite", "reviewer"], name="participation_one_per_invite"),
            UniqueConstraint(
                fields=["completion_code"], condition=~Q(completion_code=""), name="participation_unique_code"
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "completed_at"])]


class SignInLink(models.Model):
    """A one-time link back into a crowd worker's account from another device. Only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class QualificationAttempt(models.Model):
    """One try at a dataset's qualification round: a fixed list of gold images answered in order."""

    class Result(models.TextChoices):
        OPEN = "open", "In progress"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="qualification_attempts")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    image_ids = models.JSONField(default=list)
    mistakes = models.PositiveSmallIntegerField(default=0)
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.OPEN)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset_id", "reviewer_id", "number"]
        constraints = [
            UniqueConstraint(fields=["dataset", "reviewer", "number"], name="qualification_attempt_unique_number"),
            UniqueConstraint(
                fields=["dataset", "reviewer"], condition=Q(result="open"), name="qualification_one_open_attempt"
            ),
        ]
        indexes = [models.Index(fields=["dataset", "reviewer", "result"])]


class QualificationAnswer(models.Model):
    """The reviewer's boxes on one gold image of an attempt, scored at once."""

    attempt = models.ForeignKey(QualificationAttempt, on_delete=models.CASCADE, related_name="answers")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="+")
    boxes = models.JSONField(default=list)
    misses = models.PositiveIntegerField()
    extras = models.PositiveIntegerField()
    seconds_spent = models.FloatField(default=0)
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt_id", "id"]
        constraints = [UniqueConstraint(fields=["attempt", "image"], name="qualification_answer_one_per_image")]

    @property
    def is_mistake(self) -> bool:
        # A missed face is a leak; an extra box only blurs a little more than needed, so it is not a mistake.
        return bool(self.misses)
