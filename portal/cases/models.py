"""Cases and their hashes.

A case is anonymous: a random case number and a slow-hashed PIN, nothing that
names the person. Only hashes are stored, never images.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from hashing.algorithms import ALGORITHMS, IMAGE, SHARED_ALGORITHMS, VIDEO


class Organisation(models.Model):
    """A support charity whose caseworkers help victims submit and follow cases."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organisations"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """One anonymous submission: the hashes of one person's images."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn by the victim"
        EXPIRED = "expired", "Expired"

    class Subject(models.TextChoices):
        # Who is in the images, as the person confirmed at the eligibility step.
        PICTURED = "pictured", "The person is pictured"
        SYNTHETIC = "synthetic", "Made to look like the person (e.g. a deepfake)"

    # Random, at least 64 bits of entropy, shown in readable groups.
    number = models.CharField(max_length=32, unique=True)
    # Django password-hasher string (Argon2), never the PIN itself.
    pin_hash = models.CharField(max_length=256)
    # Optional recovery code, also stored only as a slow hash; empty when none.
    recovery_code_hash = models.CharField(max_length=256, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    subject = models.CharField(max_length=16, choices=Subject.choices, default=Subject.PICTURED)
    # Set when a charity caseworker helped; the charity never sees images.
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="withdrawn", withdrawn_at__isnull=False)
                | ~Q(status="withdrawn"),
                name="case_withdrawn_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.number}"


class SubmittedHash(models.Model):
    """One hash of one submitted file, and its place in the platform feed."""

    # The shared algorithms of the registry (hashing.algorithms), e.g. Algorithm.PDQ.
    # The functional Enum API: django-stubs only types TextChoices(name, label).
    Algorithm = models.TextChoices(  # type: ignore[call-overload]
        "Algorithm", [(name.upper(), (name, ALGORITHMS[name].label)) for name in SHARED_ALGORITHMS]
    )

    class MediaKind(models.TextChoices):
        IMAGE = IMAGE, "Image"
        VIDEO = VIDEO, "Video"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"
        # Held back by an operator (e.g. suspected abuse); leaves the feed as a removal.
        QUARANTINED = "quarantined", "Quarantined"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="hashes")
    # Hashes computed from the same file share an item id, so a victim can
    # withdraw "this image" as one.
    item_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices)
    value = models.CharField(max_length=64)  # lower-case hex
    quality = models.PositiveSmallIntegerField(null=True, blank=True)  # PDQ only, 0-100
    # A video's vPDQ frames are PDQ rows of the video's item, each with the sampled
    # frame's number and timestamp (seconds, millisecond precision); null on every other
    # row. See hashing/video.py for how frames are chosen.
    frame = models.PositiveIntegerField(null=True, blank=True)
    frame_timestamp = models.FloatField(null=True, blank=True)
    media_kind = models.CharField(max_length=8, choices=MediaKind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Position in the feed, bumped on every change (added, removed). Allocated
    # under a lock that is held to commit, so positions become visible in
    # order; see portal/cases/positions.py.
    feed_seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["feed_seq"]
        verbose_name_plural = "submitted hashes"
        constraints = [
            # A file's hash once per case; a video frame once per video (two videos of a
            # case may share a frame, e.g. a clip and its trimmed copy).
            models.UniqueConstraint(
                fields=["case", "algorithm", "value"],
                condition=Q(frame__isnull=True),
                name="hash_once_per_case",
            ),
            models.UniqueConstraint(
                fields=["item_id", "algorithm", "value"],
                condition=Q(frame__isnull=False),
                name="frame_once_per_video",
            ),
            models.CheckConstraint(
                condition=Q(frame__isnull=True, frame_timestamp__isnull=True)
                | Q(
                    frame__isnull=False,
                    frame_timestamp__isnull=False,
                    frame_timestamp__gte=0,
                    algorithm="pdq",
                    media_kind="video",
                ),
                name="frame_is_video_pdq",
            ),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__lte=100), name="hash_quality_0_100"
            ),
        ]
        indexes = [
            models.Index(fields=["algorithm", "value"]),
            models.Index(fields=["status", "algorithm"]),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_frame(self) -> bool:
        return self.frame is not None


class FeedCounter(models.Model):
    """A single row holding the last feed position handed out."""

    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"feed position {self.last_seq}"
