"""The binary snapshot (docs/snapshot-format.md): the NDJSON snapshot's rows as fixed-width records.

Same rows, same order, same values as `snapshot.snapshot_rows` (a test compares the
two); only the encoding differs (`hashing/platform/snapshot_format.py` defines it).

Where the time goes at 10 million rows is the per-row Python work of the ORM path (a
tuple, a dataclass and a dict per row). On PostgreSQL the rows are read instead with
`COPY (SELECT ...) TO STDOUT (FORMAT BINARY)` of fixed-width columns only (codes,
-1/NaN for none, the hash decoded to 32 bytes), so every row of PostgreSQL's binary
COPY has the same length and a batch of them is parsed by numpy in one step. The
pseudonyms are HMACs of the case and item ids: one per run of equal ids (a case's
hashes sit at neighbouring positions), spread over the run with `numpy.repeat`. The
platform's decoys are merged in by position, as records like any other. Elsewhere
(SQLite) the records are packed from `snapshot_rows`.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction

from hashing.platform import snapshot_format as fmt
from portal.platforms.feed import FeedFilters
from portal.platforms.models import Decoy, Platform
from portal.platforms.pseudonyms import pseudonym_digest
from portal.platforms.snapshot_selection import snapshot_decoys, snapshot_hashes

BATCH_ROWS = 65_536

# PostgreSQL's binary COPY of the columns below: a 19-byte file header, then per row a
# 16-bit field count and, per field, a 32-bit length and the value (network byte order).
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19
_COPY_FIELDS = [
    ("seq", ">i8"),
    ("algorithm", ">i2"),
    ("media_kind", ">i2"),
    ("quality", ">i2"),
    ("frame", ">i4"),
    ("timestamp", ">f8"),
    ("value", "V32"),
    ("case", ">i8"),
    ("item", "V16"),
]
_COPY_ROW = np.dtype(
    [("fields", ">i2")]
    + [f for name, kind in _COPY_FIELDS for f in ((f"{name}_len", ">i4"), (name, kind))]
)


class Rows(Protocol):
    """How snapshot.py makes the rows (passed in: this module must not import it back)."""

    def rows(self) -> Iterator[Any]: ...

    def decoy_row(self, decoy: Decoy) -> Any: ...


def binary_snapshot(
    *,
    platform: Platform,
    position: int,
    filters: FeedFilters,
    meta: dict[str, Any],
    source: Rows,
) -> Iterator[bytes]:
    """Header, record blocks and trailer of the binary snapshot at `position`."""
    yield fmt.header_bytes(meta)
    count, crc = 0, 0
    for records in _records(platform=platform, position=position, filters=filters, source=source):
        data = records.tobytes()
        count += len(records)
        crc = zlib.crc32(data, crc)
        yield data
    yield fmt.trailer_bytes(count=count, position=position, crc=crc)


def _records(
    *, platform: Platform, position: int, filters: FeedFilters, source: Rows
) -> Iterator[npt.NDArray[Any]]:
    if connection.vendor != "postgresql":
        yield from _records_from_rows(source)
        return
    copied = functools.partial(
        _records_copy, platform=platform, position=position, filters=filters, source=source
    )
    if connection.in_atomic_block:
        yield from copied()
        return
    # One REPEATABLE READ transaction: decoys and hashes from one database snapshot.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield from copied()


def _records_from_rows(source: Rows) -> Iterator[npt.NDArray[Any]]:
    batch = []
    for row in source.rows():
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield fmt.records_from_rows(batch)
            batch = []
    if batch:
        yield fmt.records_from_rows(batch)


def _decoy_records(
    *, platform: Platform, position: int, filters: FeedFilters, source: Rows
) -> npt.NDArray[Any]:
    decoys = snapshot_decoys(platform=platform, position=position, filters=filters)
    return fmt.records_from_rows(source.decoy_row(decoy) for decoy in decoys)


def _copy_sql(*, position: int, filters: FeedFilters) -> tuple[str, tuple[Any, ...]]:
    """The COPY statement: the selection of `snapshot_rows` as fixed-width columns."""
    # The order is the outer SELECT's: COPY streams rows as the subquery hands them over.
    hashes = snapshot_hashes(position=position, filters=filters).order_by()
    inner, params = hashes.query.sql_with_params()
    algorithms = ",".join(f"'{name}'" for name in fmt.ALGORITHM_CODES)  # constants, not input
    media_kinds = ",".join(f"'{name}'" for name in fmt.MEDIA_KIND_CODES)
    sql = (
        "COPY (SELECT s.feed_seq::int8, "  # noqa: S608 - Django's SQL (params bound) and constants
        f"coalesce(array_position(ARRAY[{algorithms}], s.algorithm::text), 0)::int2, "
        f"coalesce(array_position(ARRAY[{media_kinds}], s.media_kind::text), 0)::int2, "
        "coalesce(s.quality, -1)::int2, coalesce(s.frame, -1)::int4, "
        "coalesce(s.frame_timestamp, 'NaN')::float8, decode(rpad(s.value, 64, '0'), 'hex'), "
        "s.case_id::int8, s.item_id::uuid "
        f"FROM ({inner}) AS s ORDER BY s.feed_seq) TO STDOUT (FORMAT BINARY)"
    )
    return sql, tuple(params)


def _records_copy(
    *, platform: Platform, position: int, filters: FeedFilters, source: Rows
) -> Iterator[npt.NDArray[Any]]:
    decoys = _decoy_records(platform=platform, position=position, filters=filters, source=source)
    names = _Pseudonyms(key=platform.pseudonym_salt.encode())
    sql, params = _copy_sql(position=position, filters=filters)
    with connection.cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
        pending: list[bytes] = []
        size = 0
        started = False
        for data in copy:
            pending.append(bytes(data))
            size += len(data)
            if size >= BATCH_ROWS * _COPY_ROW.itemsize:
                buffer = b"".join(pending)
                if not started:
                    buffer, started = _strip_copy_header(buffer), True
                whole = len(buffer) - len(buffer) % _COPY_ROW.itemsize
                pending, size = [buffer[whole:]], len(buffer) - whole
                batch = _parse_copy(buffer[:whole], names)
                decoys, before = _split_decoys(decoys, upto=int(batch["seq"][-1]))
                yield _merge(batch, before)
        buffer = b"".join(pending)
        if not started:
            buffer = _strip_copy_header(buffer)
        if buffer[-2:] != b"\xff\xff" or (len(buffer) - 2) % _COPY_ROW.itemsize:
            raise RuntimeError("unexpected end of PostgreSQL's binary COPY")
        batch = _parse_copy(buffer[:-2], names)
        yield _merge(batch, decoys)


def _strip_copy_header(buffer: bytes) -> bytes:
    if not buffer.startswith(_COPY_SIGNATURE):
        raise RuntimeError("not a PostgreSQL binary COPY")
    return buffer[_COPY_HEADER:]


def _split_decoys(
    decoys: npt.NDArray[Any], *, upto: int
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(decoys after `upto`, decoys up to it)."""
    cut = int(np.searchsorted(decoys["seq"], upto, side="right"))
    return decoys[cut:], decoys[:cut]


def _merge(batch: npt.NDArray[Any], decoys: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if not len(decoys):
        return batch
    both = np.concatenate([batch, decoys])
    return both[np.argsort(both["seq"], kind="stable")]


def _parse_copy(data: bytes, names: _Pseudonyms) -> npt.NDArray[Any]:
    rows = np.frombuffer(data, dtype=_COPY_ROW)
    out = np.empty(len(rows), dtype=fmt.RECORD)
    if not len(rows):
        return out
    # Every field has its fixed length (nothing is NULL), else the layout is not ours.
    lengths_ok = (rows["fields"] == len(_COPY_FIELDS)).all() and all(
        (rows[f"{name}_len"] == np.dtype(kind).itemsize).all() for name, kind in _COPY_FIELDS
    )
    if not lengths_ok:
        raise RuntimeError("PostgreSQL's binary COPY rows are not the expected layout")
    for name in ("seq", "algorithm", "media_kind", "quality", "frame", "timestamp", "value"):
        out[name] = rows[name]
    out["case_id"] = names.spread(rows["case"], kind="case")
    out["item_id"] = names.spread(rows["item"], kind="item")
    return out


class _Pseudonyms:
    """HMAC pseudonyms computed once per run of equal ids (the last one kept across batches)."""

    def __init__(self, *, key: bytes) -> None:
        self.key = key
        self.last: dict[str, tuple[Any, bytes]] = {}

    def spread(self, ids: npt.NDArray[Any], *, kind: str) -> npt.NDArray[Any]:
        keys = np.ascontiguousarray(ids).view(np.uint8).reshape(len(ids), -1)
        starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)])
        runs = np.diff(np.r_[starts, len(ids)])
        digests = bytearray()
        last_id, last_digest = self.last.get(kind, (None, b""))
        for start in starts.tolist():
            raw = keys[start].tobytes()
            if raw != last_id:
                last_id, last_digest = raw, pseudonym_digest(key=self.key, text=_text(kind, raw))
            digests += last_digest
        self.last[kind] = (last_id, last_digest)
        return np.repeat(np.frombuffer(bytes(digests), dtype="V12"), runs)


def _text(kind: str, raw: bytes) -> str:
    """What pseudonyms.py hashes: `case:<id>` or `item:<uuid>` (hyphenated)."""
    if kind == "case":
        return f"case:{int.from_bytes(raw, 'big', signed=True)}"
    h = raw.hex()
    return f"item:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
