"""The benign list, the review queue, the audit log and platforms' feedback on decoys.

Nothing here holds image data, PINs or victim identifiers: hashes are referred to
by their row, cases never by number.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class BenignHash(models.Model):
    """A hash that must never be shared: a picture of nothing (solid colour, gradient,
    blank page, common UI image) or one an operator marked. A submission within the
    match threshold of one is held for review instead of entering the feed."""

    class Source(models.TextChoices):
        SEED = "seed", "Seed list (built in)"
        OPERATOR = "operator", "Added by an operator"

    algorithm = models.CharField(max_length=8)
    value = models.CharField(max_length=64)  # lower-case hex
    label = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.OPERATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "benign hashes"
        ordering = ["algorithm", "label"]
        constraints = [
            models.UniqueConstraint(fields=["algorithm", "value"], name="benign_once"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.algorithm})"


class ReviewItem(models.Model):
    """A hash taken out of the feed (or never put in) until an operator decides."""

    class Reason(models.TextChoices):
        NOT_VIOLATING = "not_violating", "Platforms reviewed it: not violating"
        FLOOD = "flood", "Matched an unusual number of distinct uploads"
        BENIGN = "benign", "Near a hash on the benign list"
        OPERATOR = "operator", "Quarantined by an operator"

    class State(models.TextChoices):
        OPEN = "open", "Waiting for review"
        RESTORED = "restored", "Restored to the feed"
        REMOVED = "removed", "Removed for good"

    submitted_hash = models.ForeignKey(
        "cases.SubmittedHash", on_delete=models.PROTECT, related_name="reviews"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    # What led here, in numbers (e.g. {"not_violating": 2}); never who the victim is.
    evidence = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["submitted_hash"], condition=Q(state="open"), name="review_open_once"
            ),
            models.CheckConstraint(
                condition=Q(state="open") | (Q(decided_at__isnull=False) & ~Q(note="")),
                name="review_decision_has_time_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"review of hash {self.submitted_hash_id}: {self.get_state_display()}"


class AuditEvent(models.Model):
    """One action that changed what is shared, or read the list (append-only).

    Who (`actor_kind` + `actor`: an operator's username, a platform's name, or the
    system), what (`action`, `target`, `detail`), when (`at`), why (`reason`).
    """

    class ActorKind(models.TextChoices):
        OPERATOR = "operator", "Operator"
        PLATFORM = "platform", "Platform"
        SYSTEM = "system", "System"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=40, db_index=True)
    # What it acted on, by row: "hash:12", "case:7", "platform:3", "key:9", "benign:4".
    target = models.CharField(max_length=100, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["actor_kind", "actor"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.action} {self.target}"


class DecoyFeedback(models.Model):
    """What a platform reported about one of its own decoys (latest wins).

    Served back to it exactly as feedback on a real hash is, so the feedback round
    trip cannot tell decoys apart (portal/platforms/decoy_view.py).
    """

    platform = models.ForeignKey("platforms.Platform", on_delete=models.CASCADE, related_name="+")
    decoy = models.ForeignKey("platforms.Decoy", on_delete=models.CASCADE, related_name="feedback")
    outcome = models.CharField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "decoy feedback"
        constraints = [
            models.UniqueConstraint(fields=["platform", "decoy"], name="decoy_feedback_once"),
        ]

    def __str__(self) -> str:
        return f"{self.platform_id}: {self.outcome}"


class AuditPurge(models.Model):
    """The audit purge's pass, present only inside the purge's own transaction.

    The database refuses every UPDATE of an audit row and every DELETE, except of rows
    older than `retention_days` while a row here says so (and never younger than a
    year): see portal/trust/audit_guard.py. Only `audit_purge` writes it.
    """

    retention_days = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"audit purge, {self.retention_days} days"
