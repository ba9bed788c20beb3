"""Side by side on the caseworker's device: the PIN screen tells the truth about who sees it."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.cases.models import Organisation
from tests.support.staff import staff_user, verified_login

pytestmark = pytest.mark.django_db


def _eligible(client: Client) -> Client:
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    return client


def test_on_a_caseworkers_device_the_pin_screen_says_the_caseworker_sees_it():
    helpline = Organisation.objects.create(name="Helpline", slug="helpline")
    caseworker = _eligible(verified_login(Client(), staff_user("worker", organisation=helpline)))
    page = caseworker.get(reverse("web:submit")).content.decode()
    assert 'id="secrets-side-by-side"' in page
    assert "can see this screen" in page
    # A victim on their own device is told nothing of the kind.
    victim = _eligible(Client()).get(reverse("web:submit")).content.decode()
    assert 'id="secrets-side-by-side"' not in victim
