"""Fixtures shared by the portal's page tests."""

import pytest
from django.test import Client
from django.urls import reverse


@pytest.fixture
def eligible(client: Client) -> Client:
    """A browser session past the eligibility step: an adult, pictured, who consented."""
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    return client
