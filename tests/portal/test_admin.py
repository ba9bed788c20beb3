"""The operators' admin never shows or accepts an image, nor a PIN hash."""

import pytest
from django.urls import reverse

from portal.cases.models import Case, SubmittedHash
from portal.platforms.models import ApiKey, Platform
from portal.platforms.services import platform_create
from tests.support.factories import case_with_items
from tests.support.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.org", "pw-123-xyz")
    verified_login(client, user)  # operators sign in with a second factor
    return client


def test_no_admin_page_has_a_file_input_or_shows_a_pin_hash(operator_client):
    created = case_with_items(1)
    platform_create(name="Admin Test Platform")
    pages = [reverse("admin:index")]
    for model in (Case, SubmittedHash, Platform, ApiKey):
        meta = model._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pages.append(
            reverse(
                f"admin:{meta.app_label}_{meta.model_name}_change", args=[model.objects.first().pk]
            )
        )
    pages.append(reverse("admin:cases_organisation_add"))
    for page in pages:
        response = operator_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert 'type="file"' not in html, page
        assert created.case.pin_hash not in html, page
        assert "argon2" not in html and "md5$" not in html, page


def test_quarantine_action_takes_hashes_out_of_the_feed(operator_client):
    created = case_with_items(1)
    ids = list(created.case.hashes.values_list("pk", flat=True))
    response = operator_client.post(
        reverse("admin:cases_submittedhash_changelist"),
        {"action": "quarantine", "_selected_action": ids},
    )
    assert response.status_code == 302
    assert set(created.case.hashes.values_list("status", flat=True)) == {"quarantined"}
