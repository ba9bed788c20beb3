"""The snapshot: every hash active at one feed position, streamed as gzip NDJSON or CSV, or binary.

A platform bootstraps from a snapshot, then follows the feed from the cursor the
snapshot carries. The rows are bounded by a head read before any row (the rule
in portal/platforms/feed.py), which makes the snapshot consistent with a cursor
at that position whatever the isolation level: a hash that changes afterwards
takes a larger position and reaches the platform through the feed (a removal
of a hash the snapshot already left out is a no-op).

A snapshot row carries the same values as the feed entry of the same change
(`SNAPSHOT_FIELDS` are a subset of `feed.entry_wire`'s keys; a test compares).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.platforms.feed import FeedFilters, feed_served_record, wire_time
from portal.platforms.models import Decoy, Platform
from portal.platforms.pseudonyms import decoy_disguise, pseudonymous_case_id, pseudonymous_item_id
from portal.platforms.snapshot_binary import binary_snapshot
from portal.platforms.snapshot_selection import snapshot_decoys, snapshot_hashes
from portal.trust.audit import platform_audit

_Chunk = TypeVar("_Chunk", str, bytes)

SNAPSHOT_CHUNK_SIZE = 2_000
SNAPSHOT_FORMATS = ("ndjson", "csv", "binary")
# The binary snapshot's records are mostly random hash bytes: gzip at level 6 would cost
# more server time than it saves on a fast link, so it is sent as is unless asked for
# (`compress`), then at level 1 (bench/bench_bootstrap.py measures both).
BINARY_GZIP_LEVEL = 1
SNAPSHOT_FIELDS = (
    "seq",
    "algorithm",
    "value",
    "media_kind",
    "quality",
    "case_id",
    "item_id",
    "frame",
    "timestamp",
)


@dataclass(frozen=True)
class SnapshotRow:
    seq: int
    algorithm: str
    value: str
    media_kind: str
    quality: int | None
    case_id: str
    item_id: str
    # A video's vPDQ frame: its number and timestamp (s); None on every other row.
    frame: int | None = None
    timestamp: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SNAPSHOT_FIELDS}


def snapshot_rows(
    *,
    platform: Platform,
    position: int,
    filters: FeedFilters | None = None,
    chunk_size: int = SNAPSHOT_CHUNK_SIZE,
) -> Iterator[SnapshotRow]:
    """Every hash active at feed `position` (plus the platform's decoys), oldest first.

    `position` must be a head read before this call (`feed.feed_head()`).

    On PostgreSQL the rows stream through a server-side cursor
    (`.iterator(chunk_size=...)`) inside one REPEATABLE READ transaction, so
    memory stays flat and the decoys and hashes come from one database
    snapshot. SQLite has no server-side cursors and one long SELECT would hold
    its lock against writers for the whole download, so it reads keyset pages.
    """
    filters = filters or FeedFilters()
    hashes = snapshot_hashes(position=position, filters=filters)
    decoys = snapshot_decoys(platform=platform, position=position, filters=filters)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Must be the transaction's first statement.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield from _merge(
                platform=platform,
                decoys=list(decoys),
                hashes=hashes.iterator(chunk_size=chunk_size),
            )
        return
    if connection.vendor == "postgresql":
        stream: Iterator[tuple] = hashes.iterator(chunk_size=chunk_size)
    else:
        stream = _keyset_pages(hashes, chunk_size=chunk_size)
    yield from _merge(platform=platform, decoys=list(decoys), hashes=stream)


def _keyset_pages(hashes: QuerySet, *, chunk_size: int) -> Iterator[tuple]:
    last = 0
    while True:
        page = list(hashes.filter(feed_seq__gt=last)[:chunk_size])
        yield from page
        if len(page) < chunk_size:
            return
        last = page[-1][0]


def _merge(
    *, platform: Platform, decoys: list[Decoy], hashes: Iterator[tuple]
) -> Iterator[SnapshotRow]:
    """Interleave the platform's decoys with the hashes in position order."""
    pending = iter(decoys)
    decoy = next(pending, None)
    # A case's hashes sit at neighbouring positions: remember only the last
    # pseudonyms (an HMAC each), which keeps memory flat.
    last_case: tuple[int, str] = (0, "")
    last_item: tuple[object, str] = (None, "")
    for seq, algorithm, value, media_kind, quality, case_id, item_id, frame, timestamp in hashes:
        while decoy is not None and decoy.feed_seq < seq:
            yield _decoy_row(platform=platform, decoy=decoy)
            decoy = next(pending, None)
        if last_case[0] != case_id:
            last_case = (case_id, pseudonymous_case_id(platform=platform, case_id=case_id))
        if last_item[0] != item_id:
            last_item = (item_id, pseudonymous_item_id(platform=platform, item_id=str(item_id)))
        yield SnapshotRow(
            seq,
            algorithm,
            value,
            media_kind,
            quality,
            last_case[1],
            last_item[1],
            frame,
            timestamp,
        )
    while decoy is not None:
        yield _decoy_row(platform=platform, decoy=decoy)
        decoy = next(pending, None)


def _decoy_row(*, platform: Platform, decoy: Decoy) -> SnapshotRow:
    disguise = decoy_disguise(platform=platform, decoy=decoy)
    return SnapshotRow(
        seq=decoy.feed_seq,
        algorithm=decoy.algorithm,
        value=decoy.value,
        media_kind=decoy.media_kind,
        quality=decoy.quality,
        case_id=disguise.case_id,
        item_id=disguise.item_id,
        frame=decoy.frame,
        timestamp=decoy.frame_timestamp,
    )


# Formats ------------------------------------------------------------------------


def snapshot_stream(
    *,
    platform: Platform,
    position: int,
    cursor: str,
    filters: FeedFilters,
    fmt: str,
    compress: bool = True,
) -> Iterator[bytes]:
    """The snapshot at `position`; once fully produced, it counts as sent.

    NDJSON and CSV are always gzip-compressed; binary only when `compress` is true.
    """
    if fmt not in SNAPSHOT_FORMATS:
        raise ValueError(f"unknown snapshot format {fmt!r}")
    if fmt == "binary":
        chunks = binary_snapshot(
            platform=platform,
            position=position,
            filters=filters,
            meta=_header(cursor=cursor, position=position, filters=filters),
            source=_RowSource(platform=platform, position=position, filters=filters),
        )
        recorded = _recorded(chunks, platform=platform, position=position)
        return _gzip(recorded, level=BINARY_GZIP_LEVEL) if compress else recorded
    rows = snapshot_rows(platform=platform, position=position, filters=filters)
    lines = (_ndjson_lines if fmt == "ndjson" else _csv_lines)(
        rows=rows, cursor=cursor, position=position, filters=filters
    )
    return _gzip(_recorded(lines, platform=platform, position=position))


@dataclass(frozen=True)
class _RowSource:
    """The rows and the decoys' disguise, for snapshot_binary (which can't import this)."""

    platform: Platform
    position: int
    filters: FeedFilters

    def rows(self) -> Iterator[SnapshotRow]:
        return snapshot_rows(platform=self.platform, position=self.position, filters=self.filters)

    def decoy_row(self, decoy: Decoy) -> SnapshotRow:
        return _decoy_row(platform=self.platform, decoy=decoy)


def _ndjson_lines(
    *, rows: Iterator[SnapshotRow], cursor: str, position: int, filters: FeedFilters
) -> Iterator[str]:
    yield _json_line(_header(cursor=cursor, position=position, filters=filters))
    count = 0
    for row in rows:
        count += 1
        yield _json_line({"type": "hash", **row.as_dict()})
    yield _json_line({"type": "end", "cursor": cursor, "position": position, "count": count})


def _header(*, cursor: str, position: int, filters: FeedFilters) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "cursor": cursor,
        "position": position,
        "algorithm": filters.algorithm,
        "media_kind": filters.media_kind,
        "taken_at": wire_time(timezone.now()),
    }


def _json_line(value: dict) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"


def _csv_lines(
    *, rows: Iterator[SnapshotRow], cursor: str, position: int, filters: FeedFilters
) -> Iterator[str]:
    yield f"# takeback snapshot cursor={cursor} position={position}\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SNAPSHOT_FIELDS)
    count = 0
    for row in rows:
        count += 1
        values = row.as_dict()
        writer.writerow(["" if values[k] is None else values[k] for k in SNAPSHOT_FIELDS])
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
    yield f"# end cursor={cursor} position={position} count={count}\n"


def _recorded(lines: Iterator[_Chunk], *, platform: Platform, position: int) -> Iterator[_Chunk]:
    """Pass the lines through; once all were produced, note the platform got `position`."""
    yield from lines
    feed_served_record(platform_id=platform.pk, position=position)
    # Every download of the list is in the audit log (issue 9).
    platform_audit(platform=platform, action="snapshot_download", detail={"to": position})


def _gzip(
    lines: Iterator[str] | Iterator[bytes], *, level: int = 6, flush_bytes: int = 1 << 16
) -> Iterator[bytes]:
    """Compress on the fly (gzip container), emitting about every `flush_bytes` of input."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pending: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode() if isinstance(line, str) else line
        pending.append(data)
        size += len(data)
        if size >= flush_bytes:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    yield compressor.compress(b"".join(pending)) + compressor.flush()
