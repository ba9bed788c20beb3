"""Smoke test of the embedded default: start the app exactly as `make run` does."""

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, require_service, wait_for_port


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
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback only
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
