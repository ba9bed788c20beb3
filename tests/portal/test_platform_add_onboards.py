"""The admin's "Add platform" leads to onboarding, which issues keys and decoys (issue 12)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.staff import staff_user, verified_login

pytestmark = pytest.mark.django_db


def test_add_platform_goes_to_onboarding_not_a_keyless_form():
    operator = verified_login(Client(), staff_user("operator", superuser=True))
    response = operator.get(reverse("admin:platforms_platform_add"))
    assert response.status_code == 302
    assert response.url == reverse("admin:charities_platform_onboard")
    assert operator.get(response.url).status_code == 200
