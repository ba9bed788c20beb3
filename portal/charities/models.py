"""Staff roles, invitations and hand-off links of support organisations.

Membership itself stays `Organisation.members` (portal/cases); a role row says
what a member may do there. Invitation and hand-off tokens are random and shown
once: only their SHA-256 is stored, like platform API keys.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.cases.models import Case, Organisation


class Role(models.TextChoices):
    CASEWORKER = "caseworker", "Caseworker"
    ADMIN = "admin", "Organisation admin"


class StaffRole(models.Model):
    """The role of one member of one organisation (a member without a row is a caseworker)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CASEWORKER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="one_role_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} of {self.organisation}"


class Invitation(models.Model):
    """A one-time, expiring link that makes a new staff account in an organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CASEWORKER)
    token_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organisation}"


class HandoffLink(models.Model):
    """A one-time link a caseworker gives a victim to submit from their own phone.

    Privacy: it carries nothing about the victim, only which organisation made
    it; the case it produced is set once it was used, with the victim's consent.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="handoff_links"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    # The same link as a short code to read out over the phone (typed at /h/); only
    # its SHA-256 is kept. Wrong codes are throttled per client like PINs.
    code_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # A short, non-secret reference the caseworker can note (e.g. "H-3F9A").
    reference = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    case = models.OneToOneField(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoff_link"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(revoked_at__isnull=True),
                name="handoff_used_or_revoked",
            )
        ]

    def __str__(self) -> str:
        return f"Hand-off link {self.reference} of {self.organisation}"


class CaseNote(models.Model):
    """A caseworker's follow-up on a case: what was done at the victim's request, and why.

    Never the victim's name or contact details: the form says so.
    """

    class Action(models.TextChoices):
        NOTE = "note", "Follow-up note"
        RENEWED = "renewed", "Renewed at the victim's request"
        WITHDRAWN = "withdrawn", "Withdrawn at the victim's request"
        LINKED = "linked", "Linked to the organisation"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.NOTE)
    text = models.CharField(max_length=500, blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on {self.case}"


class EnrolmentGrant(models.Model):
    """An operator's permission for a staff account to set up a new authenticator.

    Without a second factor, an account that has signed in before can't set one up
    with its password alone (whoever stole the password could then enrol their own
    phone); a new account can, once. This grant is how an operator lets someone who
    lost their phone and their recovery codes back in.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_grant"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} may set up a new authenticator"


class PlatformSyncSample(models.Model):
    """How far behind the feed head one platform was at one moment (for the lag chart)."""

    platform = models.ForeignKey(
        "platforms.Platform", on_delete=models.CASCADE, related_name="sync_samples"
    )
    taken_at = models.DateTimeField(auto_now_add=True, db_index=True)
    lag = models.BigIntegerField()  # feed positions behind the head
    synced_recently = models.BooleanField()  # fetched in the 24 hours before

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.platform_id} {self.lag} behind at {self.taken_at:%Y-%m-%d %H:%M}"
