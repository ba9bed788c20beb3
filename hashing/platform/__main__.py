"""Command line of the platform toolkit: ``python -m hashing.platform`` / ``takeback-platform``.

    takeback-platform sync --base-url https://takeback.example --api-key tb_... --db hashes.db
    takeback-platform check --db hashes.db upload1.jpg clip.mp4
    takeback-platform check --db hashes.db upload.jpg > result.jsonl
    takeback-platform feedback --db hashes.db --outcome blocked result.jsonl
    takeback-platform feedback --db hashes.db --outcome not-violating pdq:<64 hex>
    takeback-platform serve-index --db hashes.db --port 8765

``check`` prints one JSON object per file (``verdict``: match, needs_review or no_match)
and exits 0 if nothing matched, 1 if any file matched, 3 if the only hits need a person's
review, 2 if any file could not be checked (an error is never reported as "clean").
``feedback`` reports what you did about the listed hashes a ``check`` found (or hashes
given as ``algorithm:value``) and exits 0 when every one was recorded, 2 otherwise.
``--base-url`` is the site root or its ``/api/v1``; ``feedback`` takes it from the
``--db`` store when not given. The API key can come from ``TAKEBACK_API_KEY`` instead of
the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from hashing.platform.check import NEAR_THRESHOLDS, VERDICT_MATCH, VERDICT_NEEDS_REVIEW, Checker
from hashing.platform.client import ApiError, Client
from hashing.platform.feedback import OUTCOMES, FeedbackError, feedback_send, reports_from
from hashing.platform.store import Store, StoreError
from hashing.platform.sync import SyncError, sync, sync_forever

EXIT_NO_MATCH = 0
EXIT_MATCH = 1
EXIT_ERROR = 2
EXIT_NEEDS_REVIEW = 3
_BASE_URL_HELP = "the site root (https://takeback.example) or its /api/v1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="takeback-platform",
        description="Keep a local copy of Takeback's hash list and check files against it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sync_cmd = commands.add_parser("sync", help="snapshot + incremental feed into a SQLite file")
    sync_cmd.add_argument("--base-url", required=True, help=_BASE_URL_HELP)
    _api_key_argument(sync_cmd)
    sync_cmd.add_argument("--db", required=True, help="local SQLite file (created if missing)")
    sync_cmd.add_argument("--page-size", type=int, default=5_000, help="feed page size (1-10000)")
    sync_cmd.add_argument("--max-pages", type=int, default=None, help="stop after N feed pages")
    sync_cmd.add_argument("--follow", action="store_true", help="keep polling after catching up")
    sync_cmd.add_argument("--interval", type=float, default=300.0, help="seconds between polls")
    sync_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    sync_cmd.add_argument(
        "--snapshot",
        choices=["binary", "ndjson"],
        default="binary",
        help="snapshot format to bootstrap from (binary falls back to ndjson on old servers)",
    )
    sync_cmd.add_argument(
        "--compress",
        action="store_true",
        help="gzip the binary snapshot (fewer bytes on a slow link, more server CPU)",
    )
    sync_cmd.add_argument(
        "--no-acknowledge",
        action="store_true",
        help="don't report the applied feed position to the server",
    )

    check_cmd = commands.add_parser("check", help="hash files and look them up locally")
    check_cmd.add_argument("--db", required=True)
    check_cmd.add_argument("files", nargs="+", metavar="FILE")
    check_cmd.add_argument(
        "--no-dihedral",
        action="store_true",
        help="look images up as they are only, not also rotated and mirrored",
    )
    for algorithm, threshold in NEAR_THRESHOLDS.items():
        check_cmd.add_argument(
            f"--{algorithm}-threshold",
            type=int,
            default=threshold,
            help=f"max {algorithm} Hamming distance (default {threshold})",
        )

    for side, default in (("query", 80.0), ("compared", 0.0)):
        check_cmd.add_argument(
            f"--vpdq-{side}-percent",
            type=float,
            default=default,
            help=f"share of the {side} video's frames that must match (vPDQ, default {default:g})",
        )

    feedback_cmd = commands.add_parser(
        "feedback", help="report what you did about listed hashes (from check, or given)"
    )
    feedback_cmd.add_argument(
        "--outcome", required=True, choices=list(OUTCOMES), help="what you did about them"
    )
    feedback_cmd.add_argument(
        "hashes",
        nargs="*",
        metavar="HASH",
        help="algorithm:value (e.g. pdq:<64 hex>), or - / a file of check's JSON lines",
    )
    feedback_cmd.add_argument("--db", help="the sync store: its server is the default base URL")
    feedback_cmd.add_argument("--base-url", help=_BASE_URL_HELP)
    _api_key_argument(feedback_cmd)

    serve_cmd = commands.add_parser("serve-index", help="answer lookups over loopback HTTP")
    serve_cmd.add_argument("--db", required=True)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8765)
    return parser


def _api_key_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--api-key",
        default=os.environ.get("TAKEBACK_API_KEY"),
        help="native API key (default: $TAKEBACK_API_KEY)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sync":
            return _sync(args)
        if args.command == "check":
            return _check(args)
        if args.command == "feedback":
            return _feedback(args)
        from hashing.platform.serve import serve

        serve(args.db, host=args.host, port=args.port)  # pragma: no cover - runs until killed
        return EXIT_NO_MATCH  # pragma: no cover
    except (ApiError, SyncError, StoreError, FeedbackError) as exc:
        print(f"takeback-platform: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # pragma: no cover - the store keeps the last applied page
        print("takeback-platform: interrupted; run again to resume", file=sys.stderr)
        return 130


def _sync(args: argparse.Namespace) -> int:
    if not args.api_key:
        print("takeback-platform: --api-key or TAKEBACK_API_KEY is required", file=sys.stderr)
        return EXIT_ERROR
    if not 1 <= args.page_size <= 10_000:
        print("takeback-platform: --page-size must be 1-10000", file=sys.stderr)
        return EXIT_ERROR
    client = Client(args.base_url, args.api_key)
    with Store(args.db) as store:
        if args.follow:  # pragma: no cover - runs until interrupted
            sync_forever(
                store,
                client,
                interval=args.interval,
                page_size=args.page_size,
                progress=not args.quiet,
            )
        result = sync(
            store,
            client,
            page_size=args.page_size,
            max_pages=args.max_pages,
            progress=not args.quiet,
            binary=args.snapshot == "binary",
            compress=args.compress,
        )
        summary = {**result.as_dict(), "hashes": store.count()}
    print(json.dumps(summary))
    return 0


def _check(args: argparse.Namespace) -> int:
    if not os.path.exists(args.db):
        print(f"takeback-platform: no store at {args.db}; run sync first", file=sys.stderr)
        return EXIT_ERROR
    thresholds = {a: getattr(args, f"{a}_threshold") for a in NEAR_THRESHOLDS}
    with Store(args.db) as store:
        checker = Checker(
            store,
            thresholds=thresholds,
            vpdq_query_percent=args.vpdq_query_percent,
            vpdq_compared_percent=args.vpdq_compared_percent,
        )
        verdicts = set()
        for path in args.files:
            result = checker.check_file(path, dihedral=not args.no_dihedral)
            print(json.dumps(result), flush=True)
            verdicts.add("error" if "error" in result else result["verdict"])
    if "error" in verdicts:
        return EXIT_ERROR
    if VERDICT_MATCH in verdicts:
        return EXIT_MATCH
    if VERDICT_NEEDS_REVIEW in verdicts:
        return EXIT_NEEDS_REVIEW
    return EXIT_NO_MATCH


def _feedback(args: argparse.Namespace) -> int:
    base_url = args.base_url
    if base_url is None and args.db:
        if not os.path.exists(args.db):
            print(f"takeback-platform: no store at {args.db}; run sync first", file=sys.stderr)
            return EXIT_ERROR
        with Store(args.db) as store:
            base_url = store.meta_get("base_url")
    if not base_url:
        print("takeback-platform: --base-url (or a synced --db) is required", file=sys.stderr)
        return EXIT_ERROR
    if not args.api_key:
        print("takeback-platform: --api-key or TAKEBACK_API_KEY is required", file=sys.stderr)
        return EXIT_ERROR
    reports = reports_from(args.hashes, outcome=args.outcome, stdin=sys.stdin)
    summary = feedback_send(Client(base_url, args.api_key), reports)
    print(json.dumps(summary))
    unknown = [r for r in summary["results"] if r["status"] != "recorded"]
    for result in unknown:
        print(
            f"takeback-platform: {result['algorithm']}:{result['value']} is not in the list "
            f"({result['status']}); send the listed value check or /match returned",
            file=sys.stderr,
        )
    return EXIT_ERROR if unknown else EXIT_NO_MATCH


if __name__ == "__main__":
    sys.exit(main())
