"""Under load, every platform's replica equals the database (issue 16, short form).

50 victims submit and add to their cases through the victim's JSON endpoints while 20
platforms follow the feed with the platform toolkit (snapshot, then feed pages by
cursor) and 5 more victims withdraw files and whole cases; two gunicorn servers with
production settings, PostgreSQL, Redis and a real Celery worker, all started here
(tests/support/stack.py). Afterwards each platform's SQLite replica must hold exactly
the database's active set for it, row by row (no lost, duplicated or stale entry), the
database exactly what the victims were told is active, and the feed must have served
each position once, in order. The long form is bench/bench_consistency.py.
"""

import os
import re

import pytest

from tests.support.load import LOAD_ENV, _compare, consistency_run
from tests.support.services import require_service
from tests.support.stack import BIN, Stack

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    require_service(database_url.startswith("postgres"), "PostgreSQL (DATABASE_URL)")
    require_service(bool(redis_url), "Redis (REDIS_URL)")
    require_service((BIN / "gunicorn").exists(), "gunicorn in .venv")
    with Stack(
        tmp_path_factory.mktemp("load-stack"),
        database_url=database_url,
        redis_url=redis_url,
        servers=2,
        workers=2,
        env=LOAD_ENV,
    ) as running:
        yield running


def test_every_replica_equals_the_database_after_concurrent_submissions_syncs_and_withdrawals(
    stack, tmp_path
):
    platforms = stack.platforms_create(20)
    # Pages of 200: each platform still follows ~1,300 entries over several pages, with
    # fewer requests for the two loaded cores to serve (the bench uses 100).
    report = consistency_run(
        stack, platforms, tmp_path, victims=50, withdrawers=5, adds=1, page_size=200
    )
    print(report.summary())

    assert report.failures == []
    assert report.mismatches == {}
    assert (report.ledger_missing, report.ledger_extra) == (0, 0)
    # The run did what it says: everyone's files went in, withdrawals went out, and the
    # platforms followed the feed page by page while it happened.
    assert report.cases == 55
    assert report.hashes_by_status.get("withdrawn", 0) >= 5 * 3
    assert report.feed_pages > 20 and report.feed_entries > report.hashes_active
    assert report.retries == 0
    # gunicorn's access log: `"METHOD /path" STATUS bytes time`; no 5xx anywhere.
    assert not re.search(r'" 5\d\d ', stack.log_text("gunicorn"))
    worker_log = stack.log_text("celery")
    assert "Traceback" not in worker_log and "ERROR" not in worker_log


def test_the_comparison_finds_lost_extra_stale_and_duplicated_rows():
    row = ["pdq", "a" * 64, "image", 90, "pc_1", "pi_1", 7, None, None]
    other = ["md5", "b" * 32, "image", None, "pc_1", "pi_1", 8, None, None]
    gone = ["sha256", "c" * 64, "image", None, "pc_2", "pi_2", 9, None, None]
    stale = [*row[:6], 3, None, None]  # the same file's hash at an older position
    assert _compare([row, other], [tuple(row), tuple(other)]) == {
        "lost": 0,
        "extra": 0,
        "stale": 0,
        "duplicated": 0,
    }
    assert _compare([row, other], [tuple(stale), tuple(other), tuple(other), tuple(gone)]) == {
        "lost": 0,
        "extra": 1,
        "stale": 1,
        "duplicated": 1,
    }
    assert _compare([row, gone], [tuple(row)])["lost"] == 1
