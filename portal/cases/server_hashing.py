"""Server-side hashing, for when the browser can't: uploads hashed in memory, then dropped.

The upload handler is MemoryFileUploadHandler only (settings UPLOADS), so the
bytes never touch a disk; they are never logged, and `sensitive_variables`
keeps them out of error reports. Only the hashes leave this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.views.decorators.debug import sensitive_variables

import hashing
from portal.cases.services import SubmittedItem, item_from_record


@dataclass(frozen=True)
class HashedUpload:
    """One uploaded file's outcome: its item, or the hashing error (safe to show)."""

    number: int  # 1-based position in the selection
    item: SubmittedItem | None = None
    error: hashing.HashingError | None = None


@sensitive_variables("data", "record")
def upload_hash(upload: Any) -> SubmittedItem:
    """Hash one uploaded file held in memory, then drop its bytes."""
    try:
        data = upload.read()
    finally:
        upload.close()
    try:
        record = hashing.hash_bytes(data)
    except hashing.HashingError:
        raise
    except Exception:
        # An unexpected failure must not carry the bytes into a traceback, a
        # log line or an error report: report it as a plain hashing error.
        raise hashing.HashingError() from None
    finally:
        del data
    return item_from_record(record=record)


def uploads_hash(uploads: Iterable[Any]) -> list[HashedUpload]:
    """Hash every upload in turn; a file that fails doesn't stop the others."""
    outcomes = []
    for number, upload in enumerate(uploads, start=1):
        try:
            outcomes.append(HashedUpload(number=number, item=upload_hash(upload)))
        except hashing.HashingError as error:
            outcomes.append(HashedUpload(number=number, error=error))
    return outcomes
