"""Issue 10, finding 5: password guessing at staff and operator accounts is throttled (django-axes).

Before, 30 wrong passwords at the operators' admin login and then the right
one logged in. Every password check that comes with a request now goes through
django-axes first (AUTHENTICATION_BACKENDS): after AXES_FAILURE_LIMIT failures
for one (username, client) pair, the right password is refused too, until the
cool-off ends. Counting per pair keeps a stranger from locking an operator out
from elsewhere. Failures are kept in the cache only, under the keyed client
hash (never the address).
"""

import pytest
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("operator", "op@example.org", PASSWORD)


def _attempt(ip: str, password: str):
    request = RequestFactory().post("/operators/login/", REMOTE_ADDR=ip)
    return authenticate(request=request, username="operator", password=password)


def test_thirty_wrong_passwords_then_the_right_one_is_refused(operator, settings):
    for n in range(30):
        assert _attempt("203.0.113.50", f"guess-{n}") is None
    assert _attempt("203.0.113.50", PASSWORD) is None
    # The operator, from their own address, is not locked out by the stranger.
    assert _attempt("198.51.100.60", PASSWORD) == operator


def test_the_admin_login_page_does_not_let_a_guesser_in(operator):
    client = Client(REMOTE_ADDR="203.0.113.51")
    login = reverse("admin:login")
    for n in range(30):
        client.post(login, {"username": "operator", "password": f"guess-{n}"})
    response = client.post(login, {"username": "operator", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in {200, 302, 403, 429}


def _cache_keys() -> list[str]:
    store = cache._cache  # the real store: Redis under scripts/with-services, else locmem
    if hasattr(store, "get_client"):
        return [key.decode() for key in store.get_client().keys("*")]
    return [str(key) for key in store]


def test_failures_are_kept_under_the_keyed_client_hash_not_the_address(operator):
    from axes.models import AccessAttempt, AccessLog

    for n in range(3):
        _attempt("203.0.113.52", f"guess-{n}")
    keys = _cache_keys()
    assert keys and not any("203.0.113.52" in key for key in keys)
    assert not AccessAttempt.objects.exists() and not AccessLog.objects.exists()


def test_password_checks_without_a_request_still_work(operator):
    assert authenticate(username="operator", password=PASSWORD) == operator
