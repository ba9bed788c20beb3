"""The README's "Integrating as a platform" guide, followed step by step against a live server.

Runs the guide's requests over real HTTP (urllib, as a platform's own code would),
from a key printed by `manage.py create_platform` to blocking a victim's photo and
seeing the withdrawal through, and runs the guide's webhook verification snippet.
"""

import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from hashing.pdq import pdq_dihedral, pdq_hash
from portal.cases import services as case_services
from portal.cases.services import SubmittedItem
from portal.platforms import services as platforms
from portal.platforms import webhooks
from portal.platforms.models import Platform
from portal.platforms.selectors import case_distribution
from portal.platforms.services import api_key_authenticate
from tests.support.services import require_service

README = Path(__file__).resolve().parents[2] / "README.md"


def guide() -> str:
    text = README.read_text()
    start = text.index("### Integrating as a platform")
    return text[start : text.index("\n### ", start + 10)]


def photo() -> Image.Image:
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([(x + 2 * y) % 256, (3 * x) % 256, (x * y // 64) % 256], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8))


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, body=None, headers=None):
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_from_create_platform_to_blocking_a_photo(live_server):
    text = guide()
    for path in ("/me", "/hashes/snapshot", "/hashes/feed", "/match", "/feedback", "/acknowledge"):
        assert f"$API{path}" in text, path

    # 1. An operator registers the platform; the key is printed once.
    out = io.StringIO()
    call_command("create_platform", "Example Social", "--json", stdout=out)
    api = Api(f"{live_server.url}/api/v1", json.loads(out.getvalue())["api_key"])
    assert api.call("GET", "/me")[0] == 200

    # A victim submits the hashes of their photo (as the browser computes them).
    image = photo()
    victim_hash = pdq_hash(image)
    case = case_services.case_create(
        items=[
            SubmittedItem(
                media_kind="image",
                hashes={"pdq": victim_hash.hash},
                pdq_quality=victim_hash.quality,
            )
        ]
    ).case

    # 2. Bootstrap from the snapshot and keep its cursor.
    status, headers, body = api.call("GET", "/hashes/snapshot?format=ndjson")
    assert status == 200
    lines = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert lines[0]["type"] == "snapshot" and lines[-1]["type"] == "end"
    blocklist = {r["value"] for r in lines if r["type"] == "hash"}
    assert victim_hash.hash in blocklist
    cursor = lines[0]["cursor"]

    # 3. Idle poll: 200 with no entries, then 304 with the ETag.
    status, headers, body = api.call("GET", f"/hashes/feed?cursor={cursor}")
    assert status == 200 and json.loads(body)["entries"] == []
    status, _, body = api.call(
        "GET", f"/hashes/feed?cursor={cursor}", headers={"If-None-Match": headers["ETag"]}
    )
    assert status == 304 and body == b""

    # 4. Someone uploads a rotated, re-encoded copy; its dihedral variants find it.
    upload = image.rotate(90, expand=True)
    buffer = io.BytesIO()
    upload.save(buffer, format="JPEG", quality=85)
    upload = Image.open(io.BytesIO(buffer.getvalue()))
    variants, _ = pdq_dihedral(upload)
    status, _, body = api.call(
        "POST",
        "/match",
        {
            "hashes": [
                {
                    "algorithm": "pdq",
                    "value": variants["orig"],
                    "variants": [v for k, v in variants.items() if k != "orig"],
                }
            ]
        },
    )
    assert status == 200
    matches = json.loads(body)["results"][0]["matches"]
    assert [m["value"] for m in matches] == [victim_hash.hash]  # → block the upload

    # 5. Report it; the victim sees it on their case page.
    status, _, body = api.call(
        "POST",
        "/feedback",
        {"feedback": [{"algorithm": "pdq", "value": victim_hash.hash, "outcome": "blocked"}]},
    )
    assert status == 200 and json.loads(body)["results"][0]["status"] == "recorded"
    assert case_distribution(case=case).feedback["blocked"] == 1

    # The victim withdraws; the feed says remove; the platform applies and acknowledges.
    case_services.case_withdraw(case=case)
    status, _, body = api.call("GET", f"/hashes/feed?cursor={cursor}")
    page = json.loads(body)
    for entry in page["entries"]:
        (blocklist.add if entry["op"] == "add" else blocklist.discard)(entry["value"])
    assert victim_hash.hash not in blocklist
    status, _, body = api.call("POST", "/acknowledge", {"cursor": page["cursor"]})
    assert status == 200
    summary = case_distribution(case=case)
    assert (summary.platforms_removed, summary.platforms_total) == (1, 1)


def test_the_guides_webhook_verification_snippet_accepts_our_signatures():
    snippet = re.search(r"```python\n(import hashlib.*?)```", guide(), re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    verify = namespace["verify"]
    import time

    body = b'{"delivery_id":"x","entries":[]}'
    now = int(time.time())
    headers = {
        "Takeback-Webhook-Timestamp": str(now),
        "Takeback-Webhook-Signature": webhooks.webhook_sign(
            secret="whsec_abc", timestamp=now, body=body
        ),
    }
    assert verify("whsec_abc", headers, body)
    assert not verify("whsec_abd", headers, body)
    assert not verify("whsec_abc", headers, body.replace(b"[]", b"[1]"))
    stale = {**headers, "Takeback-Webhook-Timestamp": str(now - 3600)}
    assert not verify("whsec_abc", stale, body)


def guide_shell_blocks() -> list[str]:
    """The guide's `sh` blocks, in order, up to the optional webhooks.

    Step 7 registers *your* public https endpoint (loopback and private addresses are
    refused, and this machine resolves no public names), so it is not pasted here.
    """
    text = guide()
    runnable = text[: text.index("**7. Optional: webhooks.**")]
    return re.findall(r"```sh\n(.*?)```", runnable, re.S)


@pytest.mark.django_db(transaction=True)
def test_the_guides_commands_run_as_written_after_make_run(live_server, settings, tmp_path):
    """Paste every command in order into a shell in the checkout, after `make run`."""
    for tool in ("bash", "curl", "gzip", "python3"):
        require_service(shutil.which(tool) is not None, tool)
    # What `make run` leaves: demo cases, the demo platform and its keys in var/.
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    call_command("demo_setup", stdout=io.StringIO())
    blocks = guide_shell_blocks()
    assert len(blocks) >= 6
    script = "\n".join(blocks)
    assert "http://127.0.0.1:8000/api/v1" in script and "<" not in script  # no placeholders
    # The test server listens elsewhere; curl fails loudly on an HTTP error (with the
    # body) and ends its output with a newline, and an unset variable is an error: each
    # is set before it is used.
    script = script.replace("http://127.0.0.1:8000", live_server.url)
    prelude = 'set -eu\ncurl() { command curl --fail-with-body "$@"; echo; }\n'
    done = subprocess.run(
        ["bash", "-c", prelude + script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    out = done.stdout
    demo_key = json.loads((settings.VAR_DIR / "demo-platform.json").read_text())["api_key"]
    assert '"platform":"Demo platform"' in out
    assert "HTTP/1.1 304" in out  # the idle poll with the ETag
    results = [json.loads(line) for line in out.splitlines() if line.startswith('{"results"')]
    match, feedback = results
    listed = match["results"][0]["matches"][0]["value"]
    assert feedback["results"][0] == {
        "algorithm": "pdq",
        "value": listed,
        "outcome": "blocked",
        "status": "recorded",
    }
    assert feedback["summary"] == {"recorded": 1, "unknown_hash": 0}
    platform = Platform.objects.get(name="Demo platform")
    assert platform.applied_seq == platform.fetched_seq > 0  # acknowledged what it fetched
    assert api_key_authenticate(raw=demo_key).platform == platform


@pytest.mark.django_db(transaction=True)
def test_an_empty_cursor_is_a_clear_400_and_no_cursor_starts_from_the_beginning(live_server):
    created = platforms.platform_create(name="Acme")
    api = Api(f"{live_server.url}/api/v1", created.api_key.raw)
    value = hashlib.md5(b"a photo", usedforsecurity=False).hexdigest()
    case_services.case_create(items=[SubmittedItem(media_kind="image", hashes={"md5": value})])
    status, _, body = api.call("GET", "/hashes/feed?cursor=")
    assert status == 400
    error = json.loads(body)
    assert error["code"] == "bad_cursor"
    assert "empty" in error["message"] and "leave it out" in error["message"]
    status, _, body = api.call("GET", "/hashes/feed")
    assert status == 200
    assert value in {entry["value"] for entry in json.loads(body)["entries"]}


@pytest.mark.django_db(transaction=True)
def test_feedback_on_a_value_not_in_the_list_is_counted_and_coded(live_server):
    created = platforms.platform_create(name="Acme")
    api = Api(f"{live_server.url}/api/v1", created.api_key.raw)
    listed = hashlib.sha256(b"a photo").hexdigest()
    case_services.case_create(items=[SubmittedItem(media_kind="image", hashes={"sha256": listed})])
    status, _, body = api.call(
        "POST",
        "/feedback",
        {
            "feedback": [
                {"algorithm": "sha256", "value": listed, "outcome": "blocked"},
                {"algorithm": "sha256", "value": "c" * 64, "outcome": "blocked"},  # not listed
            ]
        },
    )
    assert status == 200
    answer = json.loads(body)
    assert [r["status"] for r in answer["results"]] == ["recorded", "unknown_hash"]
    assert answer["summary"] == {"recorded": 1, "unknown_hash": 1}
    # Documented: the schema describes the summary and the code, and so does the guide.
    status, _, body = Api(live_server.url, created.api_key.raw).call(
        "GET", "/api/schema/?format=json"
    )
    schema = json.dumps(json.loads(body))
    assert "unknown_hash" in schema and "summary" in schema
    text = guide()
    assert "unknown_hash" in text and "summary" in text
    assert "listed `value`" in text and "/match" in text
