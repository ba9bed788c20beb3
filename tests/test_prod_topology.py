"""Two app servers, one PostgreSQL and one Redis: nothing another server needs is in memory.

Starts two gunicorn servers with production settings (as the Procfile's `web` line does)
on a fresh database in the throw-away PostgreSQL of scripts/with-services, submits a case
through the victim's pages of server A, and checks that `POST /api/v1/match` on server B
finds it within seconds; then withdraws the case on A and checks that neither server
matches it any more. Each server runs two worker processes, so the in-process indexes of
portal/platforms/matching.py are followed across four processes.
"""

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import ROOT, free_port, require_service, wait_for_port
from tests.support.stack import BIN, HOST, BrowserClient, collectstatic, redis_database

# Issue 16: new hashes matchable, withdrawn ones unmatchable, "within seconds".
WITHIN_SECONDS = 5.0


def _plausible_pdq() -> str:
    """A random PDQ hash with 112-128 bits set (portal/cases/plausibility.py)."""
    while True:
        value = secrets.token_hex(32)
        if 112 <= bin(int(value, 16)).count("1") <= 128:
            return value


def _match(port: int, api_key: str, value: str) -> list[dict]:
    status, _, body = BrowserClient(port).request(
        "POST",
        "/api/v1/match",
        body=json.dumps({"hashes": [{"algorithm": "pdq", "value": value}]}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    assert status == 200, body
    return json.loads(body)["results"][0]["matches"]


def _within(seconds: float, check) -> float:
    """Seconds until `check()` is true; fails after `seconds`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not true within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """Production settings on a fresh database of the throw-away PostgreSQL, and its Redis."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    require_service(database_url.startswith("postgres"), "PostgreSQL (DATABASE_URL)")
    require_service(bool(redis_url), "Redis (REDIS_URL)")
    require_service((BIN / "gunicorn").exists(), "gunicorn in .venv")
    import psycopg

    url = urllib.parse.urlsplit(database_url)
    name = f"takeback_topology_{secrets.token_hex(4)}"
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    tmp = tmp_path_factory.mktemp("topology")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "DJANGO_", "GUNICORN_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        DJANGO_SECRET_KEY="topology-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS=HOST,
        DATABASE_URL=url._replace(path=f"/{name}").geturl(),
        # Redis databases of their own, so that nothing these servers count or enqueue
        # reaches the other tests of the session (their worker runs on another database).
        REDIS_URL=redis_database(redis_url, 8),
        # As in production: tasks go to Redis (no worker needed for what this test reads).
        CELERY_BROKER_URL=redis_database(redis_url, 9),
        TAKEBACK_VAR_DIR=str(tmp / "var"),
        GUNICORN_WORKERS="2",
    )
    try:
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--no-input", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )
        collectstatic(env)
        yield env
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _gunicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log_file = log.open("w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "portal.wsgi"],  # reads gunicorn.conf.py, as the Procfile does
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    return process, port


@pytest.fixture(scope="module")
def two_servers(production_env, tmp_path_factory) -> Iterator[tuple[int, int, str]]:
    """Ports of servers A and B, and a platform's API key."""
    created = subprocess.run(
        [str(BIN / "python"), "manage.py", "create_platform", "Topology Social", "--json"],
        cwd=ROOT,
        env=production_env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    api_key = json.loads(created.stdout)["api_key"]
    tmp = tmp_path_factory.mktemp("servers")
    servers = [_gunicorn(production_env, tmp / f"gunicorn-{n}.log") for n in "ab"]
    try:
        for _, port in servers:
            wait_for_port(port, timeout=120)
        yield servers[0][1], servers[1][1], api_key
    finally:
        for process, _ in servers:
            os.killpg(process.pid, signal.SIGTERM)
        for process, _ in servers:
            process.wait(timeout=30)


def test_submission_on_one_server_matches_on_the_other_and_withdrawal_leaves_both(two_servers):
    port_a, port_b, api_key = two_servers
    value = _plausible_pdq()
    # Both servers (each worker asked a few times) have loaded their indexes before the
    # submission, so what follows is the feed being followed, not a first load.
    for _ in range(4):
        assert _match(port_a, api_key, value) == []
        assert _match(port_b, api_key, value) == []

    victim = BrowserClient(port_a)
    status, _, _ = victim.request("GET", "/start/")
    assert status == 200 and "__Secure-csrftoken" in victim.cookies
    assert victim.form("/start/", {"age": "adult", "subject": "pictured", "consent": "on"}) == 302
    status, _, body = victim.request(
        "POST",
        "/submit/hashes/",
        body=json.dumps({"items": [{"media_kind": "image", "hashes": {"pdq": value}}]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, body

    seen = _within(WITHIN_SECONDS, lambda: bool(_match(port_b, api_key, value)))
    hit = _match(port_b, api_key, value)[0]
    assert (hit["value"], hit["distance"]) == (value, 0)
    # Every worker of both servers, not only the one that answered first.
    for _ in range(4):
        assert _match(port_a, api_key, value) and _match(port_b, api_key, value)

    assert victim.form("/case/withdraw/", {}) == 302
    gone = _within(
        WITHIN_SECONDS,
        lambda: not _match(port_b, api_key, value) and not _match(port_a, api_key, value),
    )
    for _ in range(4):
        assert _match(port_a, api_key, value) == []
        assert _match(port_b, api_key, value) == []
    print(f"matchable on B after {seen:.2f} s; unmatchable on A and B after {gone:.2f} s")
