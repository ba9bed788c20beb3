"""Operators act only through services: nothing that is shared can be deleted from the
admin, every action is a feed removal (or a restore as an add) with an audit row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_head
from portal.platforms.models import ApiKey, HashFeedback, Platform
from portal.platforms.services import platform_create
from portal.trust.models import AuditEvent, BenignHash, ReviewItem
from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db

try:
    from tests.support.staff import verified_login
except ImportError:  # before staff sign-in had a second factor
    verified_login = None


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.org", "pw-123-xyz")
    if verified_login is not None:
        verified_login(client, user)
    else:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model", [Case, SubmittedHash, Platform, ApiKey, HashFeedback, AuditEvent, ReviewItem]
)
def test_nothing_shared_can_be_deleted_from_the_admin(operator_client, model):
    created = case_with_items(1)
    platform_create(name="P")
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    response = operator_client.get(changelist)
    assert response.status_code == 200
    assert 'value="delete_selected"' not in response.content.decode()
    row = model.objects.first()
    if row is not None:
        delete = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[row.pk])
        assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    assert Case.objects.filter(pk=created.case.pk).exists()


def test_withdraw_and_expire_actions_are_feed_removals_with_audit_rows(operator_client):
    first, second = case_with_items(1).case, case_with_items(1).case
    before = feed_head()
    changelist = reverse("admin:cases_case_changelist")
    operator_client.post(changelist, {"action": "withdraw", "_selected_action": [first.pk]})
    operator_client.post(changelist, {"action": "expire", "_selected_action": [second.pk]})
    assert {h.status for h in first.hashes.all()} == {"withdrawn"}
    assert {h.status for h in second.hashes.all()} == {"expired"}
    assert all(h.feed_seq > before for h in [*first.hashes.all(), *second.hashes.all()])
    events = AuditEvent.objects.filter(actor="operator")
    assert {(e.action, e.target) for e in events} == {
        ("case_withdraw", f"case:{first.pk}"),
        ("case_expire", f"case:{second.pk}"),
    }


def test_quarantine_then_restore_through_the_review_queue(operator_client):
    case = case_with_items(1).case
    ids = list(case.hashes.values_list("pk", flat=True))
    operator_client.post(
        reverse("admin:cases_submittedhash_changelist"),
        {"action": "quarantine", "_selected_action": ids},
    )
    assert ReviewItem.objects.filter(state="open").count() == len(ids)
    changelist = reverse("admin:trust_reviewitem_changelist")
    reviews = list(ReviewItem.objects.values_list("pk", flat=True))
    # Without a reason the action asks for one and changes nothing.
    page = operator_client.post(changelist, {"action": "restore", "_selected_action": reviews})
    assert page.status_code == 200 and "Reason" in page.content.decode()
    assert ReviewItem.objects.filter(state="open").count() == len(ids)
    before = feed_head()
    operator_client.post(
        changelist,
        {"action": "restore", "_selected_action": reviews, "note": "checked", "apply": "1"},
    )
    assert {h.status for h in case.hashes.all()} == {"active"}
    assert all(h.feed_seq > before for h in case.hashes.all())
    actions = list(AuditEvent.objects.filter(actor="operator").values_list("action", flat=True))
    assert actions.count("hash_quarantine") == len(ids) and actions.count("review_restored") == len(
        ids
    )


def test_operators_add_to_the_benign_list_with_an_audit_row(operator_client):
    response = operator_client.post(
        reverse("admin:trust_benignhash_add"),
        {"algorithm": "md5", "value": "AB" * 16, "label": "our logo"},
    )
    assert response.status_code == 302
    row = BenignHash.objects.get(label="our logo")
    assert row.value == "ab" * 16 and row.source == "operator"
    assert AuditEvent.objects.filter(action="benign_add", actor="operator").exists()


def test_the_audit_log_is_filterable_in_the_admin(operator_client):
    platform_create(name="P")
    url = reverse("admin:trust_auditevent_changelist")
    response = operator_client.get(url, {"action": "key_issue"})
    assert response.status_code == 200 and "key_issue" in response.content.decode()
