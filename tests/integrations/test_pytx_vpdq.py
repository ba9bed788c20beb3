"""The real `threatexchange` CLI matching a re-encoded copy of a victim's video by vPDQ.

With python-threatexchange's own vPDQ extension loaded (`threatexchange.extensions.vpdq`,
which hashes with Meta's `vpdq` binding), our extension delivers each listed video as
one `vpdq` signal: the feed's frame entries grouped by item id. `threatexchange match
video` then finds a trimmed or re-encoded copy, and a withdrawal removes the signal.
"""

import importlib.util
from pathlib import Path

import pytest

from hashing.video import hash_video
from portal.cases import services as cases
from portal.platforms import services as platforms
from tests.hashing.test_video import COPIES, ORIGINAL, UNRELATED_SCENES, Clip, clip_bytes
from tests.integrations import PYTX_MISSING, pytx_installed
from tests.integrations.test_pytx_cli import THREATEXCHANGE, Cli, live_server_resources
from tests.support.factories import SubmittedItemFactory
from tests.support.services import require_service

pytestmark = pytest.mark.django_db(transaction=True)

PYTX_SOURCE = Path(__file__).resolve().parents[2] / "integrations" / "pytx"

__all__ = ["live_server_resources"]  # the autouse fixture, for this module's live server


def test_a_reencoded_or_trimmed_copy_matches_as_vpdq_and_stops_after_withdrawal(
    live_server, tmp_path
):
    require_service(THREATEXCHANGE.is_file(), f"the threatexchange CLI at {THREATEXCHANGE}")
    require_service(pytx_installed(), PYTX_MISSING)
    require_service(importlib.util.find_spec("vpdq") is not None, "the vpdq binding (make test)")
    platform = platforms.platform_create(name="Video Social")
    listed = hash_video(clip_bytes(ORIGINAL))
    case = cases.case_create(items=[cases.item_from_record(record=listed.record())]).case
    # Another victim's video stays listed: the CLI keeps a stale index file when the last
    # signal of a type goes (CliIndexStore.clear, docs/upstream-pytx-stopncii-withdrawals.md),
    # so a remaining vpdq signal makes it rebuild the index after the withdrawal.
    cases.case_create(items=[SubmittedItemFactory.build(video=True, frames=5)])

    clips = {
        "trimmed": COPIES["trimmed-start"],
        "reencoded": COPIES["hevc-mov"],
        "unrelated": Clip(scenes=UNRELATED_SCENES),
    }
    paths = {}
    for name, clip in clips.items():
        paths[name] = tmp_path / f"{name}.{clip.container}"
        paths[name].write_bytes(clip_bytes(clip))

    home = tmp_path / "home"
    home.mkdir()
    (home / ".tx_takeback_credentials").write_text(f"{platform.api_key.raw},{live_server.url}\n")
    # This checkout's extension (the venv's editable install may point at another).
    cli = Cli(home, PYTHONPATH=str(PYTX_SOURCE))
    cli.run("config", "extensions", "add", "takeback_pytx")
    added = cli.run("config", "extensions", "add", "threatexchange.extensions.vpdq.manifest").stdout
    assert "vpdq" in added
    cli.run("config", "collab", "edit", "takeback", "Takeback", "--create")
    cli.run("fetch")
    vpdq_signals = [value for kind, value in cli.signals("Takeback") if kind == "vpdq"]
    assert len(vpdq_signals) == 2  # one signal per listed video
    frames = sorted(signal.count(",") for signal in vpdq_signals)
    assert frames == [3 * 5 - 1, 3 * len(listed.frames) - 1]  # "pdq,quality,time" each

    for name in ("trimmed", "reencoded"):
        found = cli.matches("video", paths[name])
        assert ("vpdq", "Takeback") in found, (name, found)
        assert found[("vpdq", "Takeback")].startswith("INVESTIGATION_SEED cases=1")
    assert ("vpdq", "Takeback") not in cli.matches("video", paths["unrelated"])

    cases.case_withdraw(case=case)
    cli.run("fetch")
    assert len([kind for kind, _ in cli.signals("Takeback") if kind == "vpdq"]) == 1
    assert ("vpdq", "Takeback") not in cli.matches("video", paths["trimmed"])
