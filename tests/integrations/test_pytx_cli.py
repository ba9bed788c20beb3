"""The real `threatexchange` CLI on a live server: our extension and the stock StopNCII adapter.

The CLI runs as a subprocess with its own home and state directory, the way a platform
runs it: `config extensions add takeback_pytx`, a collaboration for Takeback's native
feed and one for our StopNCII-compatible exchange, `fetch`, `match`. A victim
withdraws; after the next `fetch` the native feed's removals delete the hashes, while
the stock StopNCII adapter keeps matching. That is the upstream bug in
`threatexchange/exchanges/impl/stop_ncii_api.py` (`_get_delta_mapping` compares
`hashValue` instead of `hashStatus` with the deleted statuses; see
docs/upstream-pytx-stopncii-withdrawals.md): our server sends `Withdrawn`, the test
checks that too, and the assertion on the stock adapter fails once upstream is fixed.
"""

import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.db import connections
from PIL import Image

from hashing import hash_image
from portal.cases import services as cases
from portal.platforms import services as platforms
from portal.platforms.models import Platform
from portal.platforms.selectors import case_distribution
from tests.integrations import PYTX_MISSING, pytx_installed
from tests.support.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

THREATEXCHANGE = Path(sys.executable).with_name("threatexchange")
# `<signal type> <distance> (<collab>) <opinion>`, one line per match and collaboration.
MATCH_LINE = re.compile(r"^(?P<signal>\S+) (?P<dist>\S+) \((?P<collab>[^)]+)\) (?P<opinion>.*)$")


@pytest.fixture(autouse=True)
def live_server_resources(settings, monkeypatch) -> None:
    """No persistent connections or per-thread Redis pools in the live server's threads
    (see tests/api/test_stopncii_client.py): they would outlive the test."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def victim_photo(path: Path) -> Path:
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([(x + 2 * y) % 256, (3 * x) % 256, (x * y // 64) % 256], axis=-1)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


class Cli:
    """The `threatexchange` command with its own HOME and state directory."""

    def __init__(self, home: Path, **env: str) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "TX_STATEDIR": str(home / ".threatexchange"),
            "TX_VERBOSE": "0",
            **env,
        }

    def run(self, *args: object) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(THREATEXCHANGE), *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"threatexchange {args}: {result.stdout}\n{result.stderr}"
        return result

    def matches(self, content_type: str, path: Path) -> dict[tuple[str, str], str]:
        """(signal type, collaboration) -> the opinion printed, for each match."""
        found = {}
        for line in self.run("match", content_type, path).stdout.splitlines():
            parsed = MATCH_LINE.match(line)
            assert parsed, line
            found[(parsed["signal"], parsed["collab"])] = parsed["opinion"]
        return found

    def signals(self, collab: str) -> set[tuple[str, str]]:
        """(signal type, value) of every signal the collaboration's fetched state holds."""
        out = self.run(
            "dataset", "--print-signals", "--print-signals-only", "--only-collabs", collab
        ).stdout
        return {tuple(line.split(" ", 1)) for line in out.splitlines()}


def test_withdrawal_unblocks_through_our_extension_but_not_through_stock_stopncii(
    live_server, tmp_path
):
    require_service(THREATEXCHANGE.is_file(), f"the threatexchange CLI at {THREATEXCHANGE}")
    require_service(pytx_installed(), PYTX_MISSING)
    native = platforms.platform_create(name="Native Social")  # follows /api/v1 via our extension
    stock = platforms.platform_create(name="Stock Social")  # pytx's own StopNCII adapter

    # A victim submits a photo and a video (hashed as the browser would).
    photo = victim_photo(tmp_path / "victim.png")
    photo_hashes = hash_image(photo)
    video = tmp_path / "victim.mp4"
    video.write_bytes(random.Random(13).randbytes(4096))
    video_md5 = hashlib.md5(video.read_bytes()).hexdigest()  # noqa: S324 - the exchanged digest
    video_sha256 = hashlib.sha256(video.read_bytes()).hexdigest()
    case = cases.case_create(
        items=[
            cases.SubmittedItem(
                media_kind="image",
                hashes={a: photo_hashes[a] for a in ("pdq", "phash", "dhash", "md5", "sha256")},
                pdq_quality=photo_hashes["pdq_quality"],
            ),
            cases.SubmittedItem(
                media_kind="video", hashes={"md5": video_md5, "sha256": video_sha256}
            ),
        ]
    ).case

    home = tmp_path / "home"
    home.mkdir()
    # Our credentials from the pytx file (~/.tx_takeback_credentials), StopNCII's from
    # its environment variable, with the base URL override pytx supports.
    (home / ".tx_takeback_credentials").write_text(f"{native.api_key.raw},{live_server.url}\n")
    cli = Cli(
        home,
        TX_STOPNCII_KEYS=",".join(
            (
                stock.stopncii_function_key.raw,
                stock.stopncii_subscription_key.raw,
                f"{live_server.url}/api/stopncii/v1",
            )
        ),
    )
    added = cli.run("config", "extensions", "add", "takeback_pytx").stdout
    assert "takeback - TakebackSignalExchangeAPI" in added
    cli.run("config", "collab", "edit", "takeback", "Takeback", "--create")
    cli.run("config", "collab", "edit", "stop_ncii", "StopNCII", "--create")
    collabs = set(cli.run("config", "collab", "list").stdout.splitlines())
    assert collabs == {"takeback Takeback", "stop_ncii StopNCII"}

    cli.run("fetch")
    victim_signals = {
        ("pdq", photo_hashes["pdq"]),
        ("video_md5", video_md5),
        ("video_sha256", video_sha256),
    }
    assert cli.signals("Takeback") >= victim_signals
    photo_matches = cli.matches("photo", photo)
    assert set(photo_matches) == {("pdq", "Takeback"), ("pdq", "StopNCII")}
    # The victim's own report is a seed; no platform has reported yet.
    assert photo_matches[("pdq", "Takeback")] == (
        "INVESTIGATION_SEED cases=1 blocked=0 not_violating=0 pending_review=0"
    )
    assert set(cli.matches("video", video)) == {
        ("video_md5", "Takeback"),
        ("video_sha256", "Takeback"),
        ("video_md5", "StopNCII"),
    }

    # `label` sends report_opinion as feedback: a positive opinion is "blocked".
    listed = tmp_path / "listed.pdq"
    listed.write_text(photo_hashes["pdq"])
    cli.run("label", "--as-hash", "pdq", "Takeback", "photo", listed)
    assert case_distribution(case=case).feedback["blocked"] == 1

    cases.case_withdraw(case=case)
    cli.run("fetch")
    # Our extension applied the removals; the stock StopNCII adapter kept every hash and
    # still blocks the victim's photo and video (the upstream bug: when these
    # assertions fail, it has been fixed).
    assert not cli.signals("Takeback") & victim_signals
    assert cli.signals("StopNCII") >= {("pdq", photo_hashes["pdq"]), ("video_md5", video_md5)}
    assert set(cli.matches("photo", photo)) == {("pdq", "StopNCII")}
    # The CLI's own index bug (docs/upstream-pytx-stopncii-withdrawals.md): when the last
    # signal of a type goes, `CliIndexStore.clear` compares whole paths with type names
    # and keeps the old index file. Our feed now carries a video decoy file (its MD5 and
    # SHA-256, decoys.DECOY_FILES), so video_sha256 keeps a signal, the index is rebuilt
    # and the withdrawn video's SHA-256 no longer matches.
    assert set(cli.matches("video", video)) == {("video_md5", "StopNCII")}
    # Not for want of a removal: the exchange sends the photo's hash as Withdrawn, and
    # the stock adapter turns that record into a signal to keep instead of a deletion.
    # (Imported here so that the module collects, and skips, without threatexchange.)
    from threatexchange.exchanges.clients.stopncii import api as stopncii_api
    from threatexchange.exchanges.impl import stop_ncii_api

    client = stopncii_api.StopNCIIAPI(
        stock.stopncii_subscription_key.raw,
        stock.stopncii_function_key.raw,
        base_url_override=f"{live_server.url}/api/stopncii/v1",
    )
    (record,) = [
        r
        for page in client.fetch_hashes_iter(start_timestamp=client.DEFAULT_START_TIME)
        for r in page.hashRecords
        if r.hashValue == photo_hashes["pdq"]
    ]
    assert record.hashStatus == stopncii_api.StopNCIICaseStatus.Withdrawn
    key, metadata = stop_ncii_api._get_delta_mapping(record)
    assert key == ("pdq", photo_hashes["pdq"]) and metadata is not None  # kept: the bug

    # Acknowledgement: a fetch acknowledges the checkpoint it starts from, which the CLI
    # stored after applying the previous fetch; StopNCII clients never acknowledge.
    removal_seq = case.hashes.order_by("-feed_seq").values_list("feed_seq", flat=True)[0]
    assert Platform.objects.get(pk=native.platform.pk).applied_seq < removal_seq
    cli.run("fetch")
    assert Platform.objects.get(pk=native.platform.pk).applied_seq >= removal_seq
    assert Platform.objects.get(pk=stock.platform.pk).applied_seq < removal_seq
    summary = case_distribution(case=case)
    assert (summary.platforms_removed, summary.platforms_total) == (1, 2)
    assert set(cli.matches("photo", photo)) == {("pdq", "StopNCII")}
