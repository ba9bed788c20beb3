"""The help list (portal/web/helplines.py): the UK's and the worldwide services for every
language, then those of the countries where the page's language is spoken."""

import pytest
from django.conf import settings
from django.urls import reverse

from portal.web.helplines import BY_LANGUAGE, EVERYONE, helplines_for


@pytest.mark.parametrize("code", [code for code, _ in settings.LANGUAGES])
def test_every_language_lists_the_uk_and_worldwide_services(code: str) -> None:
    everyone, local = helplines_for(code)
    assert everyone == EVERYONE
    names = {helpline.name for helpline in everyone}
    assert {"Revenge Porn Helpline", "StopNCII.org", "Take It Down", "Report Remove"} <= names
    for helpline in everyone + local:
        assert helpline.url.startswith("https://"), helpline
        assert not helpline.phone or helpline.tel.removeprefix("tel:").lstrip("+").isdigit()


def test_only_languages_of_the_portal_have_local_services() -> None:
    assert set(BY_LANGUAGE) <= {code for code, _ in settings.LANGUAGES}


@pytest.mark.django_db
def test_the_home_page_shows_the_services_of_the_visitors_language(client) -> None:
    page = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="ur").content.decode()
    assert "revengepornhelpline.org.uk" in page
    assert "digitalrightsfoundation.pk" in page  # Pakistan, for Urdu
    assert 'href="tel:080039393"' in page
    assert "cybercrime.gov.in" not in page  # India's portal is for Hindi, Bengali, Punjabi
    page = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "aepd.es/canalprioritario" in page
    assert "digitalrightsfoundation.pk" not in page
