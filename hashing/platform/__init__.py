"""The platform toolkit: keep a local copy of Takeback's hash list and check files against it.

What a small platform with no trust-and-safety team runs (``python -m hashing.platform``,
also installed as ``takeback-platform``):

``sync``
    Bootstrap a local SQLite file from the snapshot (the binary one, bulk-loaded; NDJSON
    from a server without it), then follow the incremental feed,
    applying additions and removals. Each feed page is applied together with its cursor
    in one SQLite transaction, so an interrupted sync resumes where it stopped and never
    applies an entry twice or skips one.
``check FILE...``
    Hash images and videos as ``python -m hashing --dihedral`` does and look them up
    locally (PDQ within 31 bits through the 8 dihedral variants, pHash/dHash within 10,
    MD5/SHA-256 exactly, a video's vPDQ frames among the PDQ hashes). JSON per file with a
    verdict; a pHash-only hit on an image too plain for PDQ needs review, not a match.
    Exit code 0 no match, 1 match, 3 needs review, 2 error.
``feedback``
    Report blocked / pending review / not violating for the listed hashes of ``check``
    results, or for hashes given as ``algorithm:value``, to ``POST /api/v1/feedback``.
``serve-index``
    Answer the same lookups over loopback HTTP for an upload pipeline that isn't Python.

Like the rest of ``hashing`` it uses no Django and no project code: the standard library
(``urllib.request``, ``sqlite3``) and what ``hashing`` already depends on.
"""
