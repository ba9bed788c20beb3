"""An idle poll with `If-None-Match` is answered 304 from the feed head alone (issue 16).

api/v1/feed.py computes the ETag from the platform, the cursor, the head, the limit and
the filters, and compares it before reading any page: a platform polling an unchanged feed
costs its key lookup and one read of the feed counter, never a query on the hash tables.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db

FEED = reverse("v1:hash-feed")
HASH_TABLES = ("cases_submittedhash", "platforms_decoy")


def test_idle_poll_answers_304_without_touching_the_hash_tables(acme):
    case_with_items(3)
    cursor = None
    while True:
        body = acme.client.get(FEED, {"cursor": cursor} if cursor else {}).json()
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    first = acme.client.get(FEED, {"cursor": cursor})
    assert first.status_code == 200 and first.json()["entries"] == []

    with CaptureQueriesContext(connection) as queries:
        idle = acme.client.get(FEED, {"cursor": cursor}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert idle.status_code == 304
    # ATOMIC_REQUESTS wraps the view in a savepoint here; those are not reads.
    sql = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert not [s for s in sql if any(table in s for table in HASH_TABLES)], sql
    assert any("cases_feedcounter" in s for s in sql)
    # The key lookup (with its platform) and the head: a constant, whatever the list's size.
    assert len(sql) == 2, sql

    case_with_items(1)
    with CaptureQueriesContext(connection) as changed:
        served = acme.client.get(FEED, {"cursor": cursor}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert served.status_code == 200 and served.json()["entries"]
    # Once the head moved, the same poll reads the new page from the hash table.
    assert any("cases_submittedhash" in q["sql"] for q in changed.captured_queries)
