"""Participating platforms, their API credentials and what they report back."""

import secrets
import uuid

from django.db import models
from django.utils import timezone


def _new_pseudonym_salt() -> str:
    return secrets.token_hex(16)


class Platform(models.Model):
    """A participating service that pulls the feed and blocks matching uploads."""

    name = models.CharField(max_length=200, unique=True)
    is_active = models.BooleanField(default=True)
    # Per-platform salt for pseudonymous case ids, so platforms can't link
    # each other's views of a case and never see the victim's case number.
    pseudonym_salt = models.CharField(max_length=64, default=_new_pseudonym_salt, editable=False)
    # The highest feed position this platform has been sent (feed page,
    # snapshot or webhook): "received by N platforms" is computed from it.
    fetched_seq = models.BigIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # The feed position this platform says it has fully applied (additions and
    # removals); "removed from N of M platforms" is computed from it.
    applied_seq = models.BigIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """One revocable credential of a platform; only a hash of the secret is kept."""

    class Kind(models.TextChoices):
        API = "api", "Native API key"
        STOPNCII_SUBSCRIPTION = "stopncii_sub", "StopNCII Ocp-Apim-Subscription-Key"
        STOPNCII_FUNCTION = "stopncii_fn", "StopNCII x-functions-key"

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.API)
    label = models.CharField(max_length=100, blank=True, default="")
    # Public part of the key, shown to operators to tell keys apart.
    prefix = models.CharField(max_length=16, unique=True)
    # SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is
    # enough (unlike PINs, they can't be guessed from a small space).
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["platform", "-created_at"]

    def __str__(self) -> str:
        return f"{self.platform} {self.get_kind_display()} {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class HashFeedback(models.Model):
    """What one platform did about one hash; the latest report wins."""

    class Outcome(models.TextChoices):
        MATCHED_PENDING_REVIEW = "matched_pending_review", "Matched, pending review"
        BLOCKED = "blocked", "Blocked or removed"
        NOT_VIOLATING = "not_violating", "Reviewed, not violating"

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="feedback")
    submitted_hash = models.ForeignKey(
        "cases.SubmittedHash", on_delete=models.CASCADE, related_name="feedback"
    )
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "hash feedback"
        verbose_name_plural = "hash feedback"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "submitted_hash"], name="feedback_once_per_platform_hash"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.outcome}"


class Decoy(models.Model):
    """A fake hash served only in one platform's feed and snapshot, to trace leaks.

    Decoys look like real entries (random-looking values, an add at a feed
    position taken from the shared counter) but come from no image, so a hash
    list found in the wild that contains one was copied from that platform's feed.
    They live as real hashes do (portal/platforms/decoys.py): fake cases arrive and
    are withdrawn over time, a withdrawal being a removal at a new feed position.
    A withdrawn decoy's row is kept, so a leaked copy of it still traces.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="decoys")
    algorithm = models.CharField(max_length=8)
    value = models.CharField(max_length=64)
    media_kind = models.CharField(max_length=8, default="image")
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    # A decoy video's vPDQ frame, as a real one's (cases.SubmittedHash.frame): null otherwise.
    frame = models.PositiveIntegerField(null=True, blank=True)
    frame_timestamp = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The fake case and file it belongs to (the source of its pseudonyms, see
    # pseudonyms.decoy_disguise): decoys of one case come and go together.
    case_key = models.BigIntegerField(default=0, db_index=True)
    item_key = models.BigIntegerField(default=0)
    # Position in the feed, moved on withdrawal as a real hash's is. Once the removal
    # is past the removed-hash retention and every platform's cursor, it becomes
    # -pk (portal/trust/retention.py): no reader's window reaches below 1, so the decoy
    # leaves the feed as a purged real row does, and its row still traces.
    feed_seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When it last changed (added, withdrawn): the feed's `changed_at` for it.
    changed_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["platform", "feed_seq"]
        constraints = [
            models.UniqueConstraint(fields=["algorithm", "value"], name="decoy_value_unique")
        ]
        indexes = [models.Index(fields=["platform", "feed_seq"])]

    def __str__(self) -> str:
        return f"decoy of {self.platform}: {self.algorithm}"


class WebhookEndpoint(models.Model):
    """An HTTPS endpoint a platform registered to be pushed feed changes."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    # The signing secret, sealed with a key derived from SECRET_KEY (webhooks.secret_seal):
    # a database dump alone can't sign deliveries. Shown to the platform once, in clear.
    secret = models.CharField(max_length=255, editable=False)
    is_active = models.BooleanField(default=True)
    # Feed changes up to this position have been put into deliveries.
    enqueued_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["platform", "created_at"]

    def __str__(self) -> str:
        return f"{self.platform} → {self.url}"


class WebhookDelivery(models.Model):
    """One batch of feed changes pushed to an endpoint; retried until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    # Sent as the delivery id header: receivers de-duplicate on it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    # The exact body, so every retry sends the same bytes under the same id.
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "status"])]

    def __str__(self) -> str:
        return f"delivery {self.id} ({self.status})"
