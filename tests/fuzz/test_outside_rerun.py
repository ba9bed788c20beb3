"""The outside security test of issue 10, rerun against the app as `make run` serves it.

A real server process (migrate, demo_setup, runserver: the embedded default,
tasks eager, one process) gets the bad requests that found the issue's
findings over real HTTP, from several "clients" (X-Forwarded-For behind
TAKEBACK_PROXY_COUNT=1). It counts answers 5xx, answers slower than
HANG_SECONDS and bypasses (a request that got what it must not), and requires
all three to be zero; the counts go to test-artifacts/fuzz-summary.json.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from PIL import Image

from tests.fuzz.support import HANG_SECONDS, tally
from tests.support.factories import SubmittedItemFactory
from tests.support.services import ROOT, free_port, wait_for_port

T = "outside rerun"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rerun")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "DJANGO_"))
    }
    env.update(
        TAKEBACK_VAR_DIR=str(tmp / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings.base",
        TAKEBACK_PROXY_COUNT="1",  # every request says which client it is
        TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK="true",  # so a misbehaving endpoint is accepted
        TAKEBACK_WEBHOOK_TIMEOUT_SECONDS="10",
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    # A platform with its keys, and an operator account, in the server's own database.
    setup = (
        "import json; from portal.platforms.services import platform_create; "
        "from django.contrib.auth.models import User; "
        "c = platform_create(name='Rerun'); "
        "User.objects.create_superuser('operator', 'op@example.org', 'pw-9-xyz!'); "
        "print(json.dumps({'api_key': c.api_key.raw, "
        "'stopncii_subscription_key': c.stopncii_subscription_key.raw, "
        "'stopncii_function_key': c.stopncii_function_key.raw}))"
    )
    made = subprocess.run(
        [python, "manage.py", "shell", "-c", setup],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    keys = json.loads(made.stdout.strip().splitlines()[-1])
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=120)
        yield f"http://127.0.0.1:{port}", keys, env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


class Browser:
    """One client: its own cookies and address."""

    def __init__(self, base: str, address: str) -> None:
        self.base, self.address = base, address
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def csrf(self) -> str:
        for cookie in self.jar:
            if "csrftoken" in cookie.name:
                return cookie.value
        self.send("GET", "/case/")
        return next(c.value for c in self.jar if "csrftoken" in c.name)

    def send(self, method, path, body=b"", headers=None, *, expect_below=500):
        headers = {"X-Forwarded-For": self.address, **(headers or {})}
        if method != "GET":
            headers.setdefault("X-CSRFToken", self.csrf() if "Authorization" not in headers else "")
            headers.setdefault("Referer", self.base + "/")
        request = urllib.request.Request(self.base + path, data=body or None, method=method)
        for name, value in headers.items():
            if value:
                request.add_header(name, value)
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=HANG_SECONDS + 20) as response:
                status, content = response.status, response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, content, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        elapsed = time.monotonic() - started
        entry = tally[T]
        entry["inputs"] += 1
        entry["slowest_s"] = round(max(entry["slowest_s"], elapsed), 3)
        if elapsed > HANG_SECONDS:
            entry["hangs"] += 1
        if status >= 500:
            entry["5xx"] += 1
        elif status >= 400:
            entry["4xx"] += 1
        assert status < expect_below and elapsed <= HANG_SECONDS, (method, path, status, elapsed)
        return status, content, kind, elapsed

    def form(self, path, fields):
        from urllib.parse import urlencode

        body = urlencode(fields).encode()
        return self.send("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for filename, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _bad(status: int) -> None:
    tally[T]["bypasses"] += 1
    raise AssertionError(f"bypass: answered {status}")


def _victim(base: str, address: str) -> Browser:
    browser = Browser(base, address)
    browser.form("/start/", {"age": "adult", "subject": "synthetic", "consent": "on"})
    return browser


def _items(count: int = 1) -> bytes:
    items = [
        {"media_kind": i.media_kind, "hashes": i.hashes, "pdq_quality": i.pdq_quality}
        for i in SubmittedItemFactory.build_batch(count)
    ]
    return json.dumps({"items": items}).encode()


JSON = {"Content-Type": "application/json"}


def test_the_outside_test_finds_nothing_now(app, tmp_path):
    base, keys, _ = app
    api = {"Authorization": f"Bearer {keys['api_key']}", **JSON}
    stopncii = {
        "x-functions-key": keys["stopncii_function_key"],
        "Ocp-Apim-Subscription-Key": keys["stopncii_subscription_key"],
        **JSON,
    }
    platform = Browser(base, "198.51.100.200")

    # Finding 1: a webhook that holds the connection, then a victim submits.
    holder = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(
        target=lambda: [held.append(holder.accept()[0]) for _ in range(50)], daemon=True
    ).start()
    url = f"http://127.0.0.1:{holder.getsockname()[1]}/hook"
    status, *_ = platform.send("POST", "/api/v1/webhooks", json.dumps({"url": url}).encode(), api)
    assert status == 201
    victim = _victim(base, "203.0.113.1")
    status, content, _, elapsed = victim.send("POST", "/submit/hashes/", _items(), JSON)
    # (Before: 10 s, then 500.) What remains is the case's own work, Argon2 included.
    assert status == 201 and json.loads(content)["pin"] and elapsed < 5.0, (status, elapsed)
    created = json.loads(content)

    # Finding 2: SSRF spellings at registration.
    for bad in [
        "https://%31%32%37.0.0.1:9443/",
        "https://%6c%6f%63%61%6c%68%6f%73%74/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://224.0.0.1/",
        "https://127.0.0.1./",
        "https://no-such-host.invalid/",
        "https://169.254.169.254/",
        "https://0x7f.1/",
    ]:
        status, *_ = platform.send(
            "POST", "/api/v1/webhooks", json.dumps({"url": bad}).encode(), api
        )
        if status < 400:
            _bad(status)

    # Finding 3: 100 tiny 64 MP PNGs in one request.
    side = 8000
    png = io.BytesIO()
    Image.new("1", (side, side)).save(png, "PNG", optimize=True)
    body, kind = _multipart({"consent": "on"}, [(f"{n}.png", png.getvalue()) for n in range(100)])
    uploader = _victim(base, "203.0.113.2")
    status, _, _, elapsed = uploader.send(
        "POST", "/submit/on-server/", body, {"Content-Type": kind}
    )
    assert elapsed < HANG_SECONDS

    # Finding 4: a stranger's wrong PINs and codes, then the owner from elsewhere.
    stranger = Browser(base, "203.0.113.66")
    for n in range(6):
        stranger.form("/case/", {"number": created["case_number"], "pin": f"{n:08d}"})
        stranger.form(
            "/case/recover/", {"number": created["case_number"], "recovery_code": "WRONG"}
        )
    owner = Browser(base, "203.0.113.1")
    status, *_ = owner.form("/case/", {"number": created["case_number"], "pin": created["pin"]})
    if status != 302:
        _bad(status)  # the owner was locked out by a stranger

    # Finding 5: 30 wrong operator passwords, then the right one.
    # Operators sign in through the staff sign-in (password, then a second factor):
    # the password step must not pass after the guesses.
    guesser = Browser(base, "203.0.113.99")
    for n in range(30):
        guesser.form("/caseworkers/sign-in/", {"username": "operator", "password": f"guess{n}"})
    status, *_ = guesser.form(
        "/caseworkers/sign-in/", {"username": "operator", "password": "pw-9-xyz!"}
    )
    if status == 302:
        _bad(status)  # the password step let the guesser through to the second factor
    elsewhere = Browser(base, "198.51.100.7")
    status, *_ = elsewhere.form(
        "/caseworkers/sign-in/", {"username": "operator", "password": "pw-9-xyz!"}
    )
    assert status == 302  # the operator, from their own address, is not locked out

    # Finding 6: nested JSON on every JSON endpoint, a 50 MB body, a 5,000-character
    # file name, 101 files, an unknown API URL.
    nested = b"[" * 100_000 + b"]" * 100_000
    for path, headers in [
        ("/api/v1/match", api),
        ("/api/v1/feedback", api),
        ("/api/v1/acknowledge", api),
        ("/api/v1/webhooks", api),
        ("/api/stopncii/v1/SubmitFeedback", stopncii),
        ("/api/stopncii/v1/SubmitHashes", stopncii),
        ("/api/stopncii/v1/FetchHashes", stopncii),
    ]:
        status, content, kind, _ = platform.send("POST", path, nested, headers)
        assert kind.startswith("application/json") and json.loads(content)["code"], path
    victim.send("POST", "/submit/hashes/", nested, JSON)
    status, _, kind, _ = platform.send("POST", "/api/v1/match", b" " * (50 * 1024 * 1024), api)
    assert status == 413 and kind.startswith("application/json")
    body, kind = _multipart({"consent": "on"}, [("a" * 5000 + ".png", png.getvalue())])
    _victim(base, "203.0.113.3").send("POST", "/submit/on-server/", body, {"Content-Type": kind})
    body, kind = _multipart({"consent": "on"}, [(f"{n}.png", b"x") for n in range(101)])
    status, content, _, _ = _victim(base, "203.0.113.4").send(
        "POST", "/submit/on-server/", body, {"Content-Type": kind}
    )
    assert content.startswith(b"<!doctype html>")
    status, content, kind, _ = platform.send("DELETE", "/api/v1/webhooks/-1", b"", api)
    assert status == 404 and json.loads(content)["code"] == "not_found"
    holder.close()

    entry = tally[T]
    assert entry["5xx"] == 0 and entry["hangs"] == 0 and entry["bypasses"] == 0, entry
