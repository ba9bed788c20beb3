"""The binary snapshot (``format=binary``, version 1): docs/snapshot-format.md.

One definition shared by the server (portal/platforms/snapshot.py writes it) and the
toolkit (``sync`` reads it), so the two cannot drift. Framework-free: numpy and the
standard library.

    header   magic b"TKBKSNAP", u16 version, u16 record size, u32 JSON length, JSON
    records  count x RECORD_SIZE bytes (``RECORD``, little-endian)
    trailer  magic b"TKBKEND\\0", u64 count, i64 position, u32 CRC-32 of the records, u32 0

A record holds exactly what an NDJSON snapshot line does: the hash as raw bytes, the
pseudonyms as the 12 bytes their 24 hex digits spell, codes for the algorithm and media
kind, -1 / NaN for "none". Decoys are records like any other.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashing.algorithms import ALGORITHMS

MAGIC = b"TKBKSNAP"
END_MAGIC = b"TKBKEND\0"
VERSION = 1
# The codes are part of the format: a new algorithm or media kind appends, never renumbers.
ALGORITHM_CODES: dict[str, int] = {
    name: code
    for code, name in enumerate(("pdq", "phash", "dhash", "md5", "sha256", "ahash", "whash"), 1)
}
MEDIA_KIND_CODES: dict[str, int] = {"image": 1, "video": 2}
CASE_PREFIX, ITEM_PREFIX = "pc_", "pi_"
PSEUDONYM_BYTES = 12  # the 24 hex digits after the prefix
VALUE_BYTES = 32  # the longest hash (PDQ, SHA-256); shorter ones are zero-padded

RECORD = np.dtype(
    [
        ("seq", "<i8"),
        ("algorithm", "u1"),
        ("media_kind", "u1"),
        ("quality", "<i2"),  # -1: none
        ("frame", "<i4"),  # -1: not a video frame
        ("timestamp", "<f8"),  # NaN: not a video frame
        ("value", "V32"),
        ("case_id", "V12"),
        ("item_id", "V12"),
    ]
)
RECORD_SIZE = RECORD.itemsize  # 80
_HEAD = struct.Struct("<8sHHI")
_TRAILER = struct.Struct("<8sQqII")
TRAILER_SIZE = _TRAILER.size
CONTENT_TYPE = "application/vnd.takeback.snapshot"

_ALGORITHM_NAMES = {code: name for name, code in ALGORITHM_CODES.items()}
_MEDIA_KIND_NAMES = {code: name for name, code in MEDIA_KIND_CODES.items()}
_VALUE_LENGTHS = {code: ALGORITHMS[name].hex_length // 2 for name, code in ALGORITHM_CODES.items()}


class SnapshotFormatError(Exception):
    """Not a binary snapshot of a version this code reads, or cut short / damaged."""


def header_bytes(meta: dict[str, Any]) -> bytes:
    """The header: magic, version, record size and the JSON of ``meta`` (cursor, position...)."""
    text = json.dumps(meta, separators=(",", ":")).encode()
    return _HEAD.pack(MAGIC, VERSION, RECORD_SIZE, len(text)) + text


def trailer_bytes(*, count: int, position: int, crc: int) -> bytes:
    return _TRAILER.pack(END_MAGIC, count, position, crc & 0xFFFFFFFF, 0)


def records_from_rows(rows: Iterable[Any]) -> npt.NDArray[Any]:
    """Records for rows with the snapshot's attributes (``seq``, ``algorithm``, ... ``timestamp``).

    The plain (per-row) way: what the fast server path must equal, and the SQLite path.
    """
    rows = list(rows)
    out = np.zeros(len(rows), dtype=RECORD)
    values = bytearray(len(rows) * VALUE_BYTES)
    cases = bytearray(len(rows) * PSEUDONYM_BYTES)
    items = bytearray(len(rows) * PSEUDONYM_BYTES)
    for i, row in enumerate(rows):
        raw = bytes.fromhex(row.value)
        values[i * VALUE_BYTES : i * VALUE_BYTES + len(raw)] = raw
        cases[i * PSEUDONYM_BYTES : (i + 1) * PSEUDONYM_BYTES] = pseudonym_bytes(
            row.case_id, CASE_PREFIX
        )
        items[i * PSEUDONYM_BYTES : (i + 1) * PSEUDONYM_BYTES] = pseudonym_bytes(
            row.item_id, ITEM_PREFIX
        )
    out["seq"] = [row.seq for row in rows]
    out["algorithm"] = [ALGORITHM_CODES[row.algorithm] for row in rows]
    out["media_kind"] = [MEDIA_KIND_CODES[row.media_kind] for row in rows]
    out["quality"] = [-1 if row.quality is None else row.quality for row in rows]
    out["frame"] = [-1 if row.frame is None else row.frame for row in rows]
    out["timestamp"] = [np.nan if row.timestamp is None else row.timestamp for row in rows]
    out["value"] = np.frombuffer(bytes(values), dtype="V32")
    out["case_id"] = np.frombuffer(bytes(cases), dtype="V12")
    out["item_id"] = np.frombuffer(bytes(items), dtype="V12")
    return out


def pseudonym_bytes(pseudonym: str, prefix: str) -> bytes:
    if not pseudonym.startswith(prefix) or len(pseudonym) != len(prefix) + 2 * PSEUDONYM_BYTES:
        raise ValueError(f"not a {prefix} pseudonym: {pseudonym!r}")
    return bytes.fromhex(pseudonym[len(prefix) :])


def hex_column(raw: npt.NDArray[Any], lengths: npt.NDArray[Any] | int) -> list[str]:
    """Lower-case hex of fixed-width byte fields, each cut to its length in bytes."""
    n = len(raw)
    width = raw.dtype.itemsize
    nibbles = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(n, width)
    digits = np.empty((n, 2 * width), dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits[:, 0::2] = table[nibbles >> 4]
    digits[:, 1::2] = table[nibbles & 15]
    # Beyond a row's length the digits become NUL, which the fixed-width str drops.
    keep = np.arange(2 * width) < 2 * np.asarray(lengths).reshape(-1, 1)
    digits[~np.broadcast_to(keep, digits.shape)] = 0
    return digits.view(f"S{2 * width}").ravel().astype(f"U{2 * width}").tolist()


def value_lengths(algorithm_codes: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Each record's hash length in bytes, from its algorithm code."""
    table = np.zeros(256, dtype=np.int64)
    for code, length in _VALUE_LENGTHS.items():
        table[code] = length
    lengths: npt.NDArray[np.int64] = table[algorithm_codes]
    return lengths


@dataclass(frozen=True)
class Columns:
    """Records decoded into Python values, column by column (what the store inserts)."""

    seq: list[int]
    algorithm: list[str]
    value: list[str]
    media_kind: list[str]
    quality: list[int | None]
    case_id: list[str]
    item_id: list[str]
    frame: list[int | None]
    timestamp: list[float | None]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """``(seq, algorithm, value, media_kind, quality, case_id, item_id, frame, timestamp)``."""
        return zip(
            self.seq,
            self.algorithm,
            self.value,
            self.media_kind,
            self.quality,
            self.case_id,
            self.item_id,
            self.frame,
            self.timestamp,
            strict=True,
        )


def columns(records: npt.NDArray[Any]) -> Columns:
    """Decode records (unknown codes raise ``SnapshotFormatError``)."""
    algorithms = _names(records["algorithm"], _ALGORITHM_NAMES, "algorithm")
    media_kinds = _names(records["media_kind"], _MEDIA_KIND_NAMES, "media kind")
    quality = records["quality"].astype(object)
    quality[records["quality"] < 0] = None
    frame = records["frame"].astype(object)
    frame[records["frame"] < 0] = None
    timestamp = records["timestamp"].astype(object)
    timestamp[np.isnan(records["timestamp"])] = None
    return Columns(
        seq=records["seq"].tolist(),
        algorithm=algorithms,
        value=hex_column(records["value"], value_lengths(records["algorithm"])),
        media_kind=media_kinds,
        quality=quality.tolist(),
        case_id=[CASE_PREFIX + h for h in hex_column(records["case_id"], PSEUDONYM_BYTES)],
        item_id=[ITEM_PREFIX + h for h in hex_column(records["item_id"], PSEUDONYM_BYTES)],
        frame=frame.tolist(),
        timestamp=timestamp.tolist(),
    )


def _names(codes: npt.NDArray[Any], names: dict[int, str], what: str) -> list[str]:
    unknown = set(np.unique(codes).tolist()) - set(names)
    if unknown:
        raise SnapshotFormatError(f"unknown {what} code(s) {sorted(unknown)} in the snapshot")
    table = np.array([names.get(code, "") for code in range(256)], dtype=object)
    return list(table[codes])


class Reader:
    """Parse a binary snapshot from a stream of byte chunks, checking it as it goes.

    ``header`` is the JSON header once read; ``batches(chunks)`` yields record arrays
    and, at the end, checks the trailer (count, position, CRC-32) and that nothing
    follows it. Anything else is a ``SnapshotFormatError``.
    """

    def __init__(self) -> None:
        self.header: dict[str, Any] | None = None
        self.count = 0
        self.trailer: dict[str, int] | None = None

    def batches(self, chunks: Iterable[bytes], *, batch_rows: int = 65_536) -> Iterator[Any]:
        buffer = bytearray()
        crc = 0
        chunks = iter(chunks)
        for chunk in chunks:
            buffer += chunk
            if self.header is None and not self._read_header(buffer):
                continue
            # Keep a possible trailer's worth of bytes back until the stream ends.
            usable = (len(buffer) - TRAILER_SIZE) // RECORD_SIZE
            if usable >= batch_rows or (usable > 0 and len(buffer) > 1 << 24):
                data = bytes(buffer[: usable * RECORD_SIZE])
                del buffer[: usable * RECORD_SIZE]
                crc = zlib.crc32(data, crc)
                self.count += usable
                yield np.frombuffer(data, dtype=RECORD)
        if self.header is None:
            self._read_header(buffer)
            if self.header is None:
                raise SnapshotFormatError("the snapshot was cut short (no complete header)")
        if len(buffer) < TRAILER_SIZE or (len(buffer) - TRAILER_SIZE) % RECORD_SIZE:
            raise SnapshotFormatError("the snapshot was cut short (no trailer)")
        rest = (len(buffer) - TRAILER_SIZE) // RECORD_SIZE
        if rest:
            data = bytes(buffer[: rest * RECORD_SIZE])
            crc = zlib.crc32(data, crc)
            self.count += rest
            yield np.frombuffer(data, dtype=RECORD)
        magic, count, position, expected_crc, _ = _TRAILER.unpack(bytes(buffer[-TRAILER_SIZE:]))
        if magic != END_MAGIC:
            raise SnapshotFormatError("the snapshot was cut short (no trailer)")
        if count != self.count or position != int(self.header.get("position", -1)):
            raise SnapshotFormatError(
                f"the snapshot is inconsistent: trailer says {count} records at position "
                f"{position}, got {self.count} at {self.header.get('position')}"
            )
        if expected_crc != crc:
            raise SnapshotFormatError("the snapshot is damaged (CRC-32 mismatch)")
        self.trailer = {"count": count, "position": position}

    def _read_header(self, buffer: bytearray) -> bool:
        if len(buffer) < _HEAD.size:
            if not MAGIC.startswith(bytes(buffer[: len(MAGIC)])):
                raise SnapshotFormatError("not a Takeback binary snapshot")
            return False
        magic, version, record_size, length = _HEAD.unpack(bytes(buffer[: _HEAD.size]))
        if magic != MAGIC:
            raise SnapshotFormatError("not a Takeback binary snapshot")
        if version != VERSION or record_size != RECORD_SIZE:
            raise SnapshotFormatError(
                f"binary snapshot version {version} (records of {record_size} bytes); this "
                f"toolkit reads version {VERSION} ({RECORD_SIZE} bytes): upgrade it"
            )
        if len(buffer) < _HEAD.size + length:
            return False
        try:
            self.header = json.loads(bytes(buffer[_HEAD.size : _HEAD.size + length]))
        except ValueError as exc:
            raise SnapshotFormatError(f"bad snapshot header: {exc}") from exc
        del buffer[: _HEAD.size + length]
        return True
