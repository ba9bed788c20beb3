"""The platform toolkit: keep a local copy of Takeback's hash list and check files against it.

What a small platform with no trust-and-safety team runs (``python -m hashing.platform``,
also installed as ``takeback-platform``):

``sync``
    Bootstrap a local SQLite file from the snapshot, then follow the incremental feed,
    applying additions and removals. Each feed page is applied together with its cursor
    in one SQLite transaction, so an interrupted sync resumes where it stopped and never
    applies an entry twice or skips one.
``check FILE...``
    Hash files with ``hashing.hash_image`` and look them up locally (PDQ within 31 bits,
    pHash within 10, MD5/SHA-256 exactly). JSON per file; exit code 0 no match, 1 match,
    2 error.
``serve-index``
    Answer the same lookups over loopback HTTP for an upload pipeline that isn't Python.

Like the rest of ``hashing`` it uses no Django and no project code: the standard library
(``urllib.request``, ``sqlite3``) and what ``hashing`` already depends on.
"""
