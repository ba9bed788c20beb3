"""Smoke test of the embedded default: start the app exactly as `make run` does."""

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.services import ROOT, free_port, require_service, wait_for_port


@pytest.fixture
def running_app(tmp_path):
    require_service(bool(os.environ.get("PATH")) and (ROOT / "Makefile").exists(), "make")
    port = free_port()
    # The embedded default: no database, broker or cache variables at all.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "DJANGO_"))
    }
    env["TAKEBACK_VAR_DIR"] = str(tmp_path / "var")
    log = tmp_path / "make-run.log"
    log_file = log.open("w")
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=180)
        yield f"http://127.0.0.1:{port}", log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log_file.close()


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_make_run_serves_pages_api_schema_and_static_files(running_app):
    base, log = running_app
    status, content_type, body = _get(base + "/")
    assert status == 200 and content_type.startswith("text/html")
    assert b"<html" in body

    status, content_type, body = _get(base + "/api/schema/?format=json")
    assert status == 200
    schema = json.loads(body)
    assert schema["openapi"].startswith("3.")

    status, _, body = _get(base + "/api/docs/")
    assert status == 200 and b"swagger" in body.lower()

    status, _, _ = _get(base + "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    assert status == 200

    time.sleep(0.2)
    output = log.read_text()
    assert "Demo platform credentials" in output and "api_key: tb_" in output


def test_production_deploy_steps_serve_the_app_through_gunicorn(tmp_path, redis_url):
    """README "Deploying": check --deploy, migrate, collectstatic, gunicorn with its config."""
    require_service((ROOT / ".venv" / "bin" / "gunicorn").exists(), "gunicorn in .venv")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        DJANGO_SECRET_KEY="smoke-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="takeback.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # Production refuses to start without a shared cache for its lock-out counters.
        REDIS_URL=redis_url,
        TAKEBACK_VAR_DIR=str(tmp_path / "var"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
    )
    bin_dir = ROOT / ".venv" / "bin"
    for step in (
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        ["manage.py", "migrate", "--no-input", "-v0"],
        ["manage.py", "collectstatic", "--no-input", "-v0"],
    ):
        subprocess.run([str(bin_dir / "python"), *step], cwd=ROOT, env=env, check=True, timeout=300)
    log = tmp_path / "gunicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "portal.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port, timeout=120)
            headers = {"Host": "takeback.example.org", "X-Forwarded-Proto": "https"}
            base = f"http://127.0.0.1:{port}"
            request = urllib.request.Request(base + "/", headers=headers)
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 200
                assert "Strict-Transport-Security" in response.headers
            request = urllib.request.Request(base + "/static/hashing/hashing.js", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                assert "javascript" in response.headers["Content-Type"]
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    assert "GET /" in log.read_text()
