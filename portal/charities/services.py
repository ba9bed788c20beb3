"""Writes for support organisations: staff, invitations, hand-off links, follow-up.

Tokens (invitations, hand-off links) are 256 random bits shown once, inside a
URL; only their SHA-256 is stored, so a copy of the database opens nothing.
Single use is enforced by a conditional UPDATE inside the caller's
transaction: of two requests racing with the same token, exactly one changes
the row, the other sees zero rows and is refused.

Residual risk: a token travels in a URL, so it can reach a web server's access
log (and Django logs 404s of dead links). Whoever reads such a log before the
victim opens a live hand-off link could use it first: the case made would be
theirs, linked to the organisation, and the caseworker would see the link as
used by a case the victim doesn't recognise. It names no victim and opens no
case; keep access logs off or short-lived in production.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.cases import services as case_services
from portal.cases.models import Case, Organisation, SubmittedHash
from portal.charities.models import (
    CaseNote,
    HandoffLink,
    Invitation,
    PlatformSyncSample,
    Role,
    StaffRole,
)
from portal.charities.selectors import platforms_counted
from portal.exceptions import ApplicationError

TOKEN_BYTES = 32  # 256 random bits, URL-safe base64 (43 characters)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, token_digest(raw)


# Staff ---------------------------------------------------------------------------


def staff_role(*, user, organisation: Organisation) -> str | None:
    """The member's role in the organisation, or None if they are not a member."""
    if not user.is_authenticated or not organisation.members.filter(pk=user.pk).exists():
        return None
    row = StaffRole.objects.filter(user=user, organisation=organisation).first()
    return row.role if row else Role.CASEWORKER


@transaction.atomic
def membership_add(*, organisation: Organisation, user, role: str = Role.CASEWORKER) -> StaffRole:
    """Make `user` a member of `organisation` with `role` (changing the role if already one)."""
    organisation.members.add(user)
    row, _created = StaffRole.objects.update_or_create(
        organisation=organisation, user=user, defaults={"role": role}
    )
    return row


@transaction.atomic
def membership_remove(*, organisation: Organisation, user, by) -> None:
    """An org admin removes a member of their own organisation.

    The last admin cannot remove themselves: an organisation always keeps
    someone who can invite (operators can still change anything).
    """
    if staff_role(user=by, organisation=organisation) != Role.ADMIN:
        raise ApplicationError(_("Only an organisation admin can remove staff."), code="forbidden")
    if not organisation.members.filter(pk=user.pk).exists():
        raise ApplicationError(_("That person is not a member of this organisation."))
    admins = StaffRole.objects.select_for_update().filter(
        organisation=organisation, role=Role.ADMIN
    )
    if user.pk == by.pk and admins.count() <= 1:
        raise ApplicationError(_("You are the only admin: invite another admin first."))
    organisation.members.remove(user)
    StaffRole.objects.filter(organisation=organisation, user=user).delete()


@transaction.atomic
def membership_role_set(*, organisation: Organisation, user, role: str, by) -> StaffRole:
    """An org admin makes a member of their organisation a caseworker or an admin.

    The last admin can't step down: someone must be able to invite.
    """
    if staff_role(user=by, organisation=organisation) != Role.ADMIN:
        raise ApplicationError(_("Only an organisation admin can change roles."), code="forbidden")
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."))
    if not organisation.members.filter(pk=user.pk).exists():
        raise ApplicationError(_("That person is not a member of this organisation."))
    admins = StaffRole.objects.select_for_update().filter(
        organisation=organisation, role=Role.ADMIN
    )
    if role != Role.ADMIN and admins.count() <= 1 and admins.filter(user=user).exists():
        raise ApplicationError(_("You are the only admin: make someone else admin first."))
    return membership_add(organisation=organisation, user=user, role=role)


# Invitations -----------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationCreated:
    invitation: Invitation
    url: str = field(repr=False)


def _invitation_lifetime() -> timedelta:
    return timedelta(hours=settings.TAKEBACK_INVITATION_HOURS)


@transaction.atomic
def invitation_create(
    *, organisation: Organisation, email: str, role: str, created_by, base_url: str
) -> InvitationCreated:
    """Invite someone by e-mail; the link (shown once, and mailed) works once, for a while.

    `base_url` is the site's address as the inviter reached it, e.g. https://takeback.example.
    """
    if created_by is not None and not (
        created_by.is_superuser or staff_role(user=created_by, organisation=organisation) == "admin"
    ):
        raise ApplicationError(_("Only an organisation admin can invite staff."), code="forbidden")
    if role not in Role.values:
        raise ApplicationError(_("Choose a role."))
    raw, digest = _new_token()
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        token_digest=digest,
        created_by=created_by,
        expires_at=timezone.now() + _invitation_lifetime(),
    )
    url = base_url.rstrip("/") + reverse("web:org_invitation", args=[raw])
    hours = settings.TAKEBACK_INVITATION_HOURS
    # Sent after commit, so a rolled-back invitation mails no dead link.
    transaction.on_commit(
        lambda: send_mail(
            subject=_("Your invitation to %(organisation)s on Takeback")
            % {"organisation": organisation.name},
            message=_(
                "You have been invited to join %(organisation)s on Takeback as %(role)s.\n\n"
                "Open this link within %(hours)d hours to create your account; it works once:\n"
                "%(url)s\n\nIf you did not expect this, ignore this message."
            )
            % {
                "organisation": organisation.name,
                "role": Role(role).label,
                "hours": hours,
                "url": url,
            },
            from_email=None,
            recipient_list=[email],
        )
    )
    return InvitationCreated(invitation=invitation, url=url)


def invitation_find(*, token: str) -> Invitation | None:
    """The open invitation with this token: not used, not revoked, not expired."""
    return (
        Invitation.objects.select_related("organisation")
        .filter(
            token_digest=token_digest(token),
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            organisation__is_active=True,
        )
        .first()
    )


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> AbstractBaseUser:
    """Create the invited person's account and membership; the token then stops working."""
    invitation = invitation_find(token=token)
    if invitation is None:
        raise ApplicationError(_("This invitation has expired or was already used."))
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ApplicationError(_("That username is taken. Choose another."))
    user = user_model(username=username, email=invitation.email)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now(), accepted_by=user
    )
    if claimed != 1:  # another request used it first; roll the new account back
        raise ApplicationError(_("This invitation has expired or was already used."))
    membership_add(organisation=invitation.organisation, user=user, role=invitation.role)
    return user


@transaction.atomic
def invitation_accept_existing(*, token: str, user) -> Organisation:
    """A staff member already signed in (both factors) joins another organisation.

    Only the account with the invitation's e-mail address: a forwarded link does not
    let someone else in.
    """
    invitation = invitation_find(token=token)
    if invitation is None:
        raise ApplicationError(_("This invitation has expired or was already used."))
    if (user.email or "").lower() != invitation.email.lower():
        raise ApplicationError(_("This invitation is for another e-mail address."))
    claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now(), accepted_by=user
    )
    if claimed != 1:
        raise ApplicationError(_("This invitation has expired or was already used."))
    membership_add(organisation=invitation.organisation, user=user, role=invitation.role)
    return invitation.organisation


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# Hand-off links --------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffCreated:
    link: HandoffLink
    token: str = field(repr=False)
    # The same link as a code to read out, e.g. "7KQ2M-X9HDA".
    code: str = field(repr=False, default="")


# Hand-off codes: 10 Crockford base32 characters (50 bits) in two groups of five.
# Guessing one is throttled per client (cases.throttling, action "handoff"), and a
# code works only while its link is open (72 h, once).
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HANDOFF_CODE_LENGTH = 10


def handoff_code_normalise(raw: str) -> str:
    """A typed code in canonical form: case, spaces and dashes don't matter; O/I/L read 0/1/1."""
    chars = "".join(raw.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    return chars if len(chars) == HANDOFF_CODE_LENGTH else ""


def _new_code() -> tuple[str, str]:
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(HANDOFF_CODE_LENGTH))
    return f"{chars[:5]}-{chars[5:]}", token_digest(chars)


def _reference() -> str:
    # Not a secret: lets the caseworker and the victim talk about "link H-7Q2K".
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "H-" + "".join(secrets.choice(alphabet) for _ in range(4))


@transaction.atomic
def handoff_create(*, organisation: Organisation, created_by) -> HandoffCreated:
    """A one-time submission link for a victim to open on their own phone."""
    raw, digest = _new_token()
    code, code_digest = _new_code()
    link = HandoffLink.objects.create(
        organisation=organisation,
        token_digest=digest,
        code_digest=code_digest,
        reference=_reference(),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(hours=settings.TAKEBACK_HANDOFF_HOURS),
    )
    return HandoffCreated(link=link, token=raw, code=code)


def handoff_find(*, token: str = "", code: str = "") -> HandoffLink | None:
    """The usable link with this token (or typed code): not used, not revoked, not expired."""
    if code:
        canonical = handoff_code_normalise(code)
        if not canonical:
            return None
        match = {"code_digest": token_digest(canonical)}
    else:
        match = {"token_digest": token_digest(token)}
    return (
        HandoffLink.objects.select_related("organisation")
        .filter(
            **match,
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            organisation__is_active=True,
        )
        .first()
    )


def handoff_revoke(*, link: HandoffLink) -> None:
    HandoffLink.objects.filter(pk=link.pk, used_at__isnull=True).update(revoked_at=timezone.now())


def handoff_case_link(*, link_id: int, case: Case) -> Organisation | None:
    """Use the hand-off link for the case just created, linking it to the organisation.

    Called in the submission's transaction after the case exists (the victim
    consented on the link's landing page). Returns the organisation, or None if
    the link was used, revoked or expired meanwhile: then the case stays unlinked.
    """
    now = timezone.now()
    claimed = HandoffLink.objects.filter(
        pk=link_id, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(used_at=now, case=case)
    if claimed != 1:
        return None
    organisation = HandoffLink.objects.get(pk=link_id).organisation
    # The case's organisation is a plain field of portal/cases (no service sets
    # it after creation); a single-column update, nothing in the feed changes.
    Case.objects.filter(pk=case.pk).update(organisation=organisation)
    case.organisation = organisation
    CaseNote.objects.create(
        case=case,
        organisation=organisation,
        action=CaseNote.Action.LINKED,
        text=_("Submitted through hand-off link %(reference)s")
        % {"reference": HandoffLink.objects.get(pk=link_id).reference},
    )
    return organisation


# Cases a caseworker follows ------------------------------------------------------


def _own_case(*, organisation: Organisation, case: Case) -> None:
    if case.organisation_id != organisation.pk:
        raise ApplicationError(_("That case is not linked to your organisation."), code="forbidden")


@transaction.atomic
def case_link_with_pin(*, organisation: Organisation, case: Case, by, reason: str = "") -> CaseNote:
    """Link a case (its PIN already checked by the caller) to the organisation.

    For a submission made side by side where the organisation select was forgotten:
    the victim gives the case number and PIN, which is their consent.
    """
    if case.organisation_id not in (None, organisation.pk):
        raise ApplicationError(_("That case is already linked to another organisation."))
    Case.objects.filter(pk=case.pk).update(organisation=organisation)
    case.organisation = organisation
    return CaseNote.objects.create(
        case=case, organisation=organisation, author=by, action=CaseNote.Action.LINKED, text=reason
    )


@transaction.atomic
def case_note_add(
    *, organisation: Organisation, case: Case, by, text: str, follow_up_on=None
) -> CaseNote:
    """A follow-up note (no names or contact details of the victim: the form says so)."""
    _own_case(organisation=organisation, case=case)
    return CaseNote.objects.create(
        case=case, organisation=organisation, author=by, text=text, follow_up_on=follow_up_on
    )


@transaction.atomic
def case_renew_on_request(*, organisation: Organisation, case: Case, by, reason: str) -> CaseNote:
    """Keep an active case in the feed for another full lifetime, at the victim's request."""
    _own_case(organisation=organisation, case=case)
    if case.status != Case.Status.ACTIVE:
        raise ApplicationError(_("Only an active case can be renewed."))
    if not reason.strip():
        raise ApplicationError(_("Say why (for example: the victim asked by phone)."))
    expires_at = timezone.now() + timedelta(days=settings.TAKEBACK_CASE_LIFETIME_DAYS)
    Case.objects.filter(pk=case.pk).update(expires_at=expires_at)
    case.expires_at = expires_at
    return CaseNote.objects.create(
        case=case, organisation=organisation, author=by, action=CaseNote.Action.RENEWED, text=reason
    )


@transaction.atomic
def case_withdraw_on_request(
    *, organisation: Organisation, case: Case, by, reason: str
) -> CaseNote:
    """Withdraw the whole case at the victim's request (platforms get removals)."""
    _own_case(organisation=organisation, case=case)
    if not reason.strip():
        raise ApplicationError(_("Say why (for example: the victim asked by phone)."))
    case_services.case_withdraw(case=case)
    return CaseNote.objects.create(
        case=case,
        organisation=organisation,
        author=by,
        action=CaseNote.Action.WITHDRAWN,
        text=reason,
    )


@transaction.atomic
def case_unlink_by_victim(*, case: Case) -> Organisation | None:
    """The victim takes their case away from the organisation (from their status page).

    The organisation stops seeing it at once, and its notes on the case go with it:
    nothing about the case stays with staff the victim no longer wants involved.
    Returns the organisation it was linked to, or None.
    """
    case = Case.objects.select_for_update().get(pk=case.pk)
    organisation = case.organisation
    if organisation is None:
        return None
    CaseNote.objects.filter(case=case, organisation=organisation).delete()
    HandoffLink.objects.filter(case=case).update(case=None)
    Case.objects.filter(pk=case.pk).update(organisation=None)
    case.organisation = None
    return organisation


# Platforms' feed lag, sampled for the operators' statistics -----------------------

SYNC_SAMPLES_KEPT_DAYS = 90


@transaction.atomic
def platform_sync_sample_take() -> int:
    """Record how far behind the feed head each counted platform is now (Celery beat)."""
    from_head = SubmittedHash.objects.aggregate(m=Max("feed_seq"))["m"] or 0
    now = timezone.now()
    recent = now - timedelta(hours=24)
    rows = [
        PlatformSyncSample(
            platform=platform,
            lag=max(from_head - platform.fetched_seq, 0),
            synced_recently=bool(platform.fetched_at and platform.fetched_at >= recent),
        )
        for platform in platforms_counted()
    ]
    PlatformSyncSample.objects.bulk_create(rows)
    PlatformSyncSample.objects.filter(
        taken_at__lt=now - timedelta(days=SYNC_SAMPLES_KEPT_DAYS)
    ).delete()
    return len(rows)
