"""Issue 10, finding 6 (portal side): cookies, files, settings, secrets and error pages.

- The CSRF cookie is a session cookie (no year-long trace on a shared device).
- The embedded SQLite file is created readable by its owner only.
- Production settings refuse to start without a shared cache (REDIS_URL): lock-out
  counters in a per-process cache would multiply by the number of workers.
- Webhook signing secrets are stored sealed: a database dump alone can't sign.
- Pages get calm HTML error pages (400, 403, 404, 500), never Django's bare ones.
"""

import hashlib
import hmac
import os
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from portal.platforms import webhooks
from portal.platforms.services import platform_create
from tests.portal.test_settings import PRODUCTION_ENV, _manage
from tests.support.services import ROOT

pytestmark = pytest.mark.django_db


def test_the_csrf_cookie_ends_with_the_browser(client):
    response = client.get(reverse("web:status_login"))
    cookie = response.cookies["csrftoken"]
    assert cookie.value and not cookie["max-age"] and not cookie["expires"]


def test_production_refuses_to_start_without_a_shared_cache(tmp_path):
    env = {**PRODUCTION_ENV, "REDIS_URL": "", "TAKEBACK_VAR_DIR": str(tmp_path)}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr


def test_the_embedded_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE", "CELERY", "REDIS"))
    }
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "portal.settings.base",
        "TAKEBACK_VAR_DIR": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    database = tmp_path / "takeback.sqlite3"
    assert database.stat().st_size > 0
    assert database.stat().st_mode & 0o077 == 0, oct(database.stat().st_mode)


def test_a_database_dump_alone_cannot_sign_deliveries(settings, example_org_dns):
    platform = platform_create(name="Hooked").platform
    created = webhooks.webhook_create(platform=platform, url="https://hooks.example.org/h")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM platforms_webhookendpoint WHERE id = %s", [created.endpoint.pk]
        )
        (stored,) = cursor.fetchone()
    assert created.secret not in stored
    body, timestamp = b'{"entries":[]}', 1700000000
    real = webhooks.webhook_sign(secret=created.secret, timestamp=timestamp, body=body)
    # What someone with only the dump could compute is not the signature receivers accept.
    forged = (
        "v1="
        + hmac.new(stored.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    assert forged != real
    # With the settings' key it opens; with another key it doesn't.
    assert webhooks.secret_unseal(stored) == created.secret
    settings.SECRET_KEY = "another-deployment-" + "k" * 40
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ValueError):
        webhooks.secret_unseal(stored)


def test_sealed_secrets_survive_a_secret_key_rotation(settings):
    stored = webhooks.secret_seal("whsec_rotate")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-key-" + "n" * 40
    assert webhooks.secret_unseal(stored) == "whsec_rotate"


def test_secrets_sealed_before_sealing_was_shared_still_open(settings):
    # Webhook secrets stored by earlier releases: Fernet under HKDF-SHA256 of
    # SECRET_KEY with info "takeback.webhook-secret", behind the "sealed1:" prefix.
    import base64

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"takeback.webhook-secret"
    ).derive(settings.SECRET_KEY.encode())
    token = Fernet(base64.urlsafe_b64encode(key)).encrypt(b"whsec_from_before").decode()
    assert webhooks.secret_unseal("sealed1:" + token) == "whsec_from_before"


def _calm(response, status: int) -> str:
    assert response.status_code == status
    html = response.content.decode()
    assert html.startswith("<!doctype html>") and "Takeback" in html, html[:300]
    assert "Traceback" not in html and "Django" not in html
    return html


def test_pages_have_a_calm_404(client):
    _calm(client.get("/no-such-page/"), 404)


def test_pages_have_a_calm_500(monkeypatch):
    from portal.web import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "render", broken)  # the home page's view renders with it
    response = Client(raise_request_exception=False).get(reverse("web:home"))
    assert "boom" not in _calm(response, 500)


def test_too_many_files_get_a_calm_400(client):
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    files = [SimpleUploadedFile(f"{n}.png", b"x", content_type="image/png") for n in range(101)]
    _calm(client.post(reverse("web:upload"), {"files": files, "consent": "on"}), 400)


def test_a_very_long_file_name_gets_a_page_not_a_bare_error(client):
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    upload = SimpleUploadedFile("a" * 5000 + ".png", b"x", content_type="image/png")
    response = client.post(reverse("web:upload"), {"files": upload, "consent": "on"})
    assert response.status_code in {200, 400}
    assert response.content.decode().startswith("<!doctype html>")


def test_a_csrf_failure_gets_a_calm_403():
    client = Client(enforce_csrf_checks=True)
    _calm(client.post(reverse("web:status_login"), {"number": "x", "pin": "y"}), 403)
