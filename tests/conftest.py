"""Shared fixtures: the real services the tests need, started by the tests.

`make test` runs the suite inside scripts/with-services, which provides a
throw-away PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). Fixtures here
start what a test needs on top: a real Celery worker process, headless
Chromium. A bare `pytest` without those services skips the tests that need
them, except under CI=true, where a missing service is a failure.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import CHROMIUM, CHROMIUM_ARGS, CONFORMANCE, ROOT, require_service


@pytest.fixture
def fresh_match_indexes() -> Iterator[None]:
    """Each test's database is rolled back: the in-process match indexes must be too."""
    from portal.platforms.matching import match_indexes_reset

    match_indexes_reset()
    yield
    match_indexes_reset()


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    require_service(CONFORMANCE.is_dir(), f"conformance data at {CONFORMANCE}")
    return CONFORMANCE


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    require_service(bool(url), "Redis (REDIS_URL)")
    return url


@pytest.fixture(scope="session")
def postgres_database(django_db_setup, django_db_blocker) -> dict:
    """The settings of the test database, which must be PostgreSQL."""
    from django.db import connection

    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    return connection.settings_dict


def _forget_connections(app) -> None:
    """Drop the result backend and broker pool Celery built from the previous settings.

    Celery caches both on first use (a disabled backend while tasks ran eagerly,
    say): without this, a test earlier in the session decides where `.delay()`
    sends and where `.get()` waits.
    """
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app._backend_cache = None
    app._local = threading.local()


@pytest.fixture(scope="session")
def celery_worker_process(redis_url, postgres_database, tmp_path_factory) -> Iterator[object]:
    """A real `celery worker` process on the test database, fed through real Redis.

    Yields the project's Celery app, reconfigured in this process to send
    tasks through the broker instead of running them eagerly.
    """
    from portal.celery import app

    db = postgres_database
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log_file = log.open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    _forget_connections(app)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield app
    finally:
        app.conf.update(saved)
        _forget_connections(app)
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log_file.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (never Playwright's download)."""
    require_service(Path(CHROMIUM).exists() or bool(shutil.which("chromium")), "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests leave screenshots and figures for people to look at (not committed)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


# A public address (example.org's) that names under example.org resolve to in tests: the
# sandbox has no DNS, and webhook endpoints must resolve to public addresses.
EXAMPLE_ORG_ADDRESS = "93.184.215.14"


@pytest.fixture
def example_org_dns(monkeypatch) -> None:
    """Webhook endpoints under example.org resolve (to a public address) without DNS."""
    import ipaddress

    from portal.platforms import webhooks

    real = webhooks._resolve

    def resolve(host: str, port: int) -> list:
        if host == "example.org" or host.endswith(".example.org"):
            return [ipaddress.ip_address(EXAMPLE_ORG_ADDRESS)]
        return real(host, port)

    monkeypatch.setattr(webhooks, "_resolve", resolve)


@pytest.fixture
def _audit_log_reset(transactional_db) -> Iterator[None]:
    """Empty the audit log before a transactional test's flush, as only its owner can.

    The database refuses to delete recent audit rows (portal/trust/audit_guard.py), and
    on SQLite the flush deletes row by row: lift the guard, empty the table, put the
    guard back (set up after `transactional_db`, so this runs before its flush).
    """
    yield
    from django.db import connection

    from portal.trust.audit_guard import audit_guard_drop, audit_guard_install

    audit_guard_drop(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM trust_auditevent")
    audit_guard_install(connection)


@pytest.fixture(autouse=True)
def _feed_counter_row(request) -> None:
    """Put back the feed counter row that migration cases.0002 creates.

    Transactional tests (live servers, real workers) end by flushing every
    table, the counter row included, and pytest-django runs them after the
    others; without the row no hash could be added in the tests that follow.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool({"transactional_db", "live_server"} & set(request.fixturenames)) or bool(
        marker and marker.kwargs.get("transaction")
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        request.getfixturevalue("_audit_log_reset")
    elif marker or "db" in request.fixturenames:
        request.getfixturevalue("db")
    else:
        return
    from portal.cases.models import FeedCounter

    FeedCounter.objects.get_or_create(pk=1)
