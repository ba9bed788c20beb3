"""The local hash list: one SQLite file holding the active hashes and the feed cursor.

A row is one hash of one case as the feed names it: ``(algorithm, value, case_id,
item_id)``, pseudonymous ids included, because the same hash can come from two cases and
withdrawing one of them must not remove the other's. A video's vPDQ frames are PDQ rows
of the video's item with the frame number and timestamp set (``frame``, ``timestamp``).
The cursor and the feed position
are kept in ``meta`` and always written in the same transaction as the rows they
describe. A bootstrap replaces the whole table in one bulk load (``bulk``,
``replace_all``); feed pages go through ``add`` and ``remove``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashing.algorithms import ALGORITHMS

SCHEMA_VERSION = "2"

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_TABLE = """
CREATE TABLE hashes (
    id INTEGER PRIMARY KEY,
    algorithm TEXT NOT NULL,
    value TEXT NOT NULL,
    media_kind TEXT NOT NULL,
    quality INTEGER,
    case_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    frame INTEGER,
    timestamp REAL
)
"""
# One row per (algorithm, value, case_id, item_id); as a separate index (files made before
# had it inline, with a second index on (algorithm, value) that this one's prefix serves)
# so that a bootstrap can load the rows first and sort them into the index once.
_KEY_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS hashes_key ON hashes (algorithm, value, case_id, item_id)"
)
_COLUMNS = "algorithm, value, media_kind, quality, case_id, item_id, seq, frame, timestamp"

# Schema 1 (before video frames) -> 2: the two frame columns; no row of 1 is a frame.
_UPGRADE_FROM_1 = (
    "ALTER TABLE hashes ADD COLUMN frame INTEGER",
    "ALTER TABLE hashes ADD COLUMN timestamp REAL",
)


@dataclass(frozen=True)
class Entry:
    """A hash as the snapshot and the feed carry it."""

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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            seq=int(data["seq"]),
            algorithm=str(data["algorithm"]),
            value=str(data["value"]),
            media_kind=str(data.get("media_kind") or "image"),
            quality=None if data.get("quality") is None else int(data["quality"]),
            case_id=str(data["case_id"]),
            item_id=str(data["item_id"]),
            frame=None if data.get("frame") is None else int(data["frame"]),
            timestamp=None if data.get("timestamp") is None else float(data["timestamp"]),
        )


class StoreError(Exception):
    pass


class Store:
    """The SQLite file. Use one per process; writes happen in ``transaction()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self.transaction():
            version = self._version()
            if version == "1":
                for statement in _UPGRADE_FROM_1:
                    self._db.execute(statement)
                self.meta_set("schema_version", version := SCHEMA_VERSION)
            if version is None:
                self._db.execute(_META)
                self._db.execute(_TABLE)
                self._db.execute(_KEY_INDEX)
                self.meta_set("schema_version", SCHEMA_VERSION)
            elif version != SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema {version}; expected {SCHEMA_VERSION}")

    def _version(self) -> str | None:
        """The file's schema version, None for a new file."""
        if not self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone():
            return None
        return self.meta_get("schema_version")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two syncs on one file queue
        # instead of interleaving their pages.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def meta_get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def clear(self) -> None:
        self._db.execute("DELETE FROM hashes")

    def add(self, entries: Iterable[Entry]) -> None:
        self._db.executemany(
            f"INSERT INTO hashes ({_COLUMNS}) "  # noqa: S608 - constant
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (algorithm, value, case_id, item_id) DO UPDATE SET "
            "seq = excluded.seq, quality = excluded.quality, media_kind = excluded.media_kind, "
            "frame = excluded.frame, timestamp = excluded.timestamp",
            (
                (
                    e.algorithm,
                    e.value,
                    e.media_kind,
                    e.quality,
                    e.case_id,
                    e.item_id,
                    e.seq,
                    e.frame,
                    e.timestamp,
                )
                for e in entries
            ),
        )

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A transaction for a bulk load (``replace_all``), all of it or nothing.

        With a rollback journal rather than the WAL: pages past the file's old end are
        not journaled, so ten million new rows are written once instead of twice (WAL,
        then checkpoint). The file goes back to WAL after; if another process has it
        open the switch is refused and the load simply runs in WAL mode.
        """
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute("PRAGMA cache_size=-262144")  # 256 MiB for the index sort
        try:
            with self.transaction():
                yield
        finally:
            self._db.execute("PRAGMA cache_size=-2000")
            self._db.execute("PRAGMA journal_mode=WAL")

    def replace_all(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Replace every row with ``rows`` (in ``_COLUMNS`` order), in the open transaction.

        The bootstrap's bulk load: the table is made anew without its key index, filled
        with plain inserts, and indexed once at the end, a sort instead of ten million
        B-tree insertions. Rows with the same key keep the last one, as ``add`` would.
        Returns how many rows were loaded.
        """
        self._db.execute("DROP INDEX IF EXISTS hashes_by_value")
        self._db.execute("DROP TABLE hashes")
        self._db.execute(_TABLE)
        counted = _Counted(rows)
        self._db.executemany(
            f"INSERT INTO hashes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
            counted,
        )
        try:
            self._db.execute(_KEY_INDEX)
        except sqlite3.IntegrityError:
            self._db.execute(
                "DELETE FROM hashes WHERE id NOT IN "
                "(SELECT max(id) FROM hashes GROUP BY algorithm, value, case_id, item_id)"
            )
            self._db.execute(_KEY_INDEX)
        return counted.count

    def remove(self, entries: Iterable[Entry]) -> None:
        self._db.executemany(
            "DELETE FROM hashes WHERE algorithm = ? AND value = ? AND case_id = ? AND item_id = ?",
            ((e.algorithm, e.value, e.case_id, e.item_id) for e in entries),
        )

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM hashes").fetchone()[0])

    def rows(self, algorithm: str) -> Iterator[tuple[int, str]]:
        """``(row id, value)`` of every stored hash of ``algorithm``."""
        yield from self._db.execute(
            "SELECT id, value FROM hashes WHERE algorithm = ? ORDER BY id", (algorithm,)
        )

    def arrays(self, algorithm: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        """Row ids and hashes (uint8, one row of bytes each) of ``algorithm``, for
        ``HashIndex.from_arrays``: no Python object per hash beyond the fetched row."""
        ids: list[int] = []
        values: list[str] = []
        # In key-index order (the index covers both columns): no sort of millions of rows.
        cursor = self._db.execute("SELECT id, value FROM hashes WHERE algorithm = ?", (algorithm,))
        while batch := cursor.fetchmany(100_000):
            batch_ids, batch_values = zip(*batch, strict=True)
            ids.extend(batch_ids)
            values.extend(batch_values)
        width = ALGORITHMS[algorithm].hex_length // 2
        hashes = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8)
        if len(hashes) != width * len(ids):
            raise StoreError(f"{self.path} holds {algorithm} values of the wrong length")
        return np.array(ids, dtype=np.int64), hashes.reshape(len(ids), width)

    def exact(self, algorithm: str, value: str) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT id, algorithm, value, media_kind, case_id FROM hashes "
            "WHERE algorithm = ? AND value = ? ORDER BY id",
            (algorithm, value),
        )
        return [_row_dict(row) for row in cursor]

    def by_ids(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        # The ids travel as one JSON array parameter: no SQL is built from values.
        cursor = self._db.execute(
            "SELECT id, algorithm, value, media_kind, case_id FROM hashes "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        for row in cursor:
            found[int(row[0])] = _row_dict(row)
        return found

    def dump(self) -> list[tuple[Any, ...]]:
        """Every row without its local id (to compare two stores in tests and tools)."""
        return list(
            self._db.execute(
                "SELECT algorithm, value, media_kind, quality, case_id, item_id, seq, "
                "frame, timestamp FROM hashes ORDER BY algorithm, value, case_id, item_id"
            )
        )

    # -- video reads (check, serve-index) ----------------------------------------------

    def frame_rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """The rows of ``ids`` that are video frames: their item, frame number and time."""
        cursor = self._db.execute(
            "SELECT id, case_id, item_id, frame, timestamp FROM hashes "
            "WHERE frame IS NOT NULL AND id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
        return {
            int(row[0]): {
                "case_id": row[1],
                "item_id": row[2],
                "frame": int(row[3]),
                "timestamp": row[4],
            }
            for row in cursor
        }

    def video_items(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Per video ``(case_id, item_id)``: its frames ``(frame, timestamp, pdq, quality)`` in
        frame order and its digests (``md5``, ``sha256``; None when not listed)."""
        found: dict[tuple[str, str], dict[str, Any]] = {
            key: {"frames": [], "md5": None, "sha256": None} for key in keys
        }
        cursor = self._db.execute(
            "SELECT case_id, item_id, algorithm, value, quality, frame, timestamp FROM hashes "
            "WHERE media_kind = 'video' AND item_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY frame",
            (json.dumps(sorted({item for _, item in keys})),),
        )
        for case_id, item_id, algorithm, value, quality, frame, timestamp in cursor:
            video = found.get((case_id, item_id))
            if video is None:
                continue
            if frame is not None:
                video["frames"].append((int(frame), float(timestamp), value, int(quality or 0)))
            elif algorithm in ("md5", "sha256"):
                video[algorithm] = value
        return found


class _Counted:
    """Pass rows through, counting them."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self._rows:
            self.count += 1
            yield row


def _row_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": int(row[0]),
        "algorithm": row[1],
        "value": row[2],
        "media_kind": row[3],
        "case_id": row[4],
    }
