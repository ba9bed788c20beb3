"""Template tags for the victim's status page: what happened to a file in review, and
whether the case can be renewed (portal/trust/templates/web/_trust_*.html)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone

from portal.cases.models import Case
from portal.trust.selectors import case_file_notes

register = template.Library()


@register.simple_tag
def trust_file_note(case: Case, item_id) -> str:
    """The plain-words note for one file of the case ("" when nothing happened)."""
    notes = getattr(case, "_trust_notes", None)
    if notes is None:  # one query per page, not per file
        notes = case_file_notes(case=case)
        case._trust_notes = notes  # type: ignore[attr-defined]
    return notes.get(item_id, "")


@register.simple_tag
def trust_renewal_due(case: Case) -> bool:
    """An active case may be renewed in the last TAKEBACK_CASE_RENEWAL_WINDOW_DAYS days."""
    window = timedelta(days=settings.TAKEBACK_CASE_RENEWAL_WINDOW_DAYS)
    return case.status == Case.Status.ACTIVE and case.expires_at - timezone.now() <= window
