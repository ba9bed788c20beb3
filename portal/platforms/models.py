"""Participating platforms, their API credentials and what they report back."""

import secrets

from django.db import models


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
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "submitted_hash"], name="feedback_once_per_platform_hash"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.outcome}"
