"""``sync``: bootstrap the local store from the snapshot, then follow the feed.

Resumable by construction. The snapshot is loaded in one SQLite transaction together
with the cursor it was taken at: an interrupted download leaves nothing behind (and no
cursor), so the next run starts it again. After that, each feed page is applied in one
transaction with the cursor that follows it, so a crash between pages loses nothing and
the next run continues from the last applied page: no entry is skipped or applied twice.
"""

from __future__ import annotations

import http.client
import itertools
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from hashing.platform import snapshot_format
from hashing.platform.client import ApiError, Client, SnapshotUnsupported
from hashing.platform.progress import Progress
from hashing.platform.store import Entry, Store

OP_ADD = "add"
OP_REMOVE = "remove"
_BATCH = 5_000


class SyncError(Exception):
    pass


@dataclass
class SyncResult:
    bootstrapped: int = 0  # hashes loaded from the snapshot (0 if the store had a cursor)
    added: int = 0
    removed: int = 0
    pages: int = 0
    position: int = 0
    caught_up: bool = False
    # The position the server was told is applied here (None: not acknowledged).
    acknowledged: int | None = None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def sync(
    store: Store,
    client: Client,
    *,
    page_size: int = 5_000,
    max_pages: int | None = None,
    progress: bool = True,
    acknowledge: bool = True,
    binary: bool = True,
    compress: bool = False,
) -> SyncResult:
    """Bring the store up to date; stop when caught up (or after ``max_pages`` feed pages).

    Then, unless ``acknowledge`` is false, tell the server which feed position is now
    applied here (``POST /api/v1/acknowledge``): that is what lets a victim's case page
    say "removed from N of M platforms". The local store is what ``check`` consults, so
    a committed page is an applied page.
    """
    result = SyncResult()
    known_base = store.meta_get("base_url")
    if known_base is not None and known_base != client.base_url:
        raise SyncError(
            f"{store.path} follows {known_base}, not {client.base_url}; use another --db file"
        )
    if store.meta_get("cursor") is None:
        result.bootstrapped = bootstrap(
            store, client, progress=progress, binary=binary, compress=compress
        )
    follow(store, client, result, page_size=page_size, max_pages=max_pages, progress=progress)
    result.position = int(store.meta_get("position") or 0)
    if acknowledge and result.position > int(store.meta_get("acknowledged") or 0):
        client.post("/api/v1/acknowledge", {"position": result.position})
        with store.transaction():
            store.meta_set("acknowledged", str(result.position))
    if acknowledge:
        result.acknowledged = int(store.meta_get("acknowledged") or 0) or None
    return result


def bootstrap(
    store: Store,
    client: Client,
    *,
    progress: bool = True,
    binary: bool = True,
    compress: bool = False,
) -> int:
    """Replace the store's contents with the snapshot; returns how many hashes it held.

    The binary snapshot (docs/snapshot-format.md) unless ``binary`` is false or the
    server has none, then the NDJSON one. ``compress`` asks for the binary one gzipped
    (less than half the bytes, for slow links; on a fast one it costs more than it saves).
    """
    if binary:
        try:
            return bootstrap_binary(store, client, progress=progress, compress=compress)
        except SnapshotUnsupported:
            pass
    return bootstrap_ndjson(store, client, progress=progress)


def bootstrap_binary(
    store: Store, client: Client, *, progress: bool = True, compress: bool = False
) -> int:
    """Bulk-load the binary snapshot in one transaction (all of it, or nothing)."""
    bar = Progress("snapshot", enabled=progress)
    reader = snapshot_format.Reader()

    def rows() -> Generator[tuple[Any, ...], None, None]:
        for records in reader.batches(client.snapshot_chunks(compress=compress)):
            columns = snapshot_format.columns(records)
            yield from zip(
                columns.algorithm,
                columns.value,
                columns.media_kind,
                columns.quality,
                columns.case_id,
                columns.item_id,
                columns.seq,
                columns.frame,
                columns.timestamp,
                strict=True,
            )
            bar.update(len(records))

    chunks = rows()
    try:
        # The first rows are read before the store is touched: an older server's refusal
        # (SnapshotUnsupported) leaves the transaction unopened.
        first = next(chunks, None)
        with store.bulk():
            count = store.replace_all(itertools.chain([] if first is None else [first], chunks))
            if reader.header is None or reader.trailer is None:  # pragma: no cover - Reader raises
                raise SyncError("snapshot download was cut short; run sync again")
            store.meta_set("cursor", str(reader.header["cursor"]))
            store.meta_set("position", str(int(reader.header["position"])))
            store.meta_set("base_url", client.base_url)
    except snapshot_format.SnapshotFormatError as exc:
        raise SyncError(f"{exc}; the store is unchanged, run sync again") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise SyncError(f"snapshot download failed ({exc!r}); run sync again") from exc
    finally:
        chunks.close()  # the HTTP response, if the load stopped early
    bar.close()
    return count


def bootstrap_ndjson(store: Store, client: Client, *, progress: bool = True) -> int:
    """Load the NDJSON snapshot line by line in one transaction."""
    bar = Progress("snapshot", enabled=progress)
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    count = 0
    with store.transaction():
        store.clear()
        batch: list[Entry] = []
        for line in client.snapshot_lines():
            kind = line.get("type")
            if kind == "snapshot":
                header = line
            elif kind == "hash":
                if header is None or end is not None:
                    raise SyncError("snapshot lines out of order")
                batch.append(Entry.from_json(line))
                if len(batch) >= _BATCH:
                    store.add(batch)
                    count += len(batch)
                    bar.update(len(batch))
                    batch = []
            elif kind == "end":
                end = line
        store.add(batch)
        count += len(batch)
        bar.update(len(batch))
        # A stream cut short has no end line (or a wrong count): roll it all back.
        if header is None or end is None:
            raise SyncError("snapshot download was cut short; run sync again")
        if int(end.get("count", -1)) != count or end.get("cursor") != header.get("cursor"):
            raise SyncError("snapshot is inconsistent (count or cursor); run sync again")
        store.meta_set("cursor", str(header["cursor"]))
        store.meta_set("position", str(int(header["position"])))
        store.meta_set("base_url", client.base_url)
    bar.close()
    return count


def follow(
    store: Store,
    client: Client,
    result: SyncResult,
    *,
    page_size: int,
    max_pages: int | None,
    progress: bool,
) -> None:
    start = int(store.meta_get("position") or 0)
    bar = Progress("feed", unit="positions", enabled=progress)
    while max_pages is None or result.pages < max_pages:
        cursor = store.meta_get("cursor")
        page = client.feed(cursor=cursor, limit=page_size)
        if page is None:  # pragma: no cover - no ETag is sent here
            break
        adds = removes = 0
        with store.transaction():
            if store.meta_get("cursor") != cursor:
                raise SyncError("another sync moved the cursor meanwhile; run sync again")
            for raw in page.entries:
                entry = Entry.from_json(raw)
                if raw.get("op") == OP_ADD:
                    store.add([entry])
                    adds += 1
                elif raw.get("op") == OP_REMOVE:
                    store.remove([entry])
                    removes += 1
                else:
                    raise SyncError(f"unknown feed operation {raw.get('op')!r}")
            store.meta_set("cursor", page.cursor)
            store.meta_set("position", str(page.position))
        result.pages += 1
        result.added += adds
        result.removed += removes
        bar.update(page.position - start - bar.done, total=max(page.head - start, 1))
        if not page.has_more:
            result.caught_up = True
            break
    bar.close()


def sync_forever(
    store: Store,
    client: Client,
    *,
    interval: float,
    page_size: int,
    progress: bool,
) -> None:  # pragma: no cover - runs until interrupted
    """``sync --follow``: sync, then poll every ``interval`` seconds."""
    while True:
        try:
            sync(store, client, page_size=page_size, progress=progress)
        except ApiError as exc:
            # Transient trouble: the cursor is safe in the store; try again later.
            print(f"sync failed, will retry: {exc}", flush=True)
        time.sleep(interval)
