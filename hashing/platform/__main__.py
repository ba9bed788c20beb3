"""Command line of the platform toolkit: ``python -m hashing.platform`` / ``takeback-platform``.

    takeback-platform sync --base-url https://takeback.example --api-key tb_... --db hashes.db
    takeback-platform check --db hashes.db upload1.jpg upload2.png
    takeback-platform serve-index --db hashes.db --port 8765

``check`` prints one JSON object per file and exits 0 if nothing matched, 1 if any file
matched, 2 if any file could not be checked (an error is never reported as "clean").
The API key can come from ``TAKEBACK_API_KEY`` instead of the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from hashing.platform.check import NEAR_THRESHOLDS, Checker
from hashing.platform.client import ApiError, Client
from hashing.platform.store import Store, StoreError
from hashing.platform.sync import SyncError, sync, sync_forever

EXIT_NO_MATCH = 0
EXIT_MATCH = 1
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="takeback-platform",
        description="Keep a local copy of Takeback's hash list and check files against it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sync_cmd = commands.add_parser("sync", help="snapshot + incremental feed into a SQLite file")
    sync_cmd.add_argument("--base-url", required=True, help="e.g. https://takeback.example")
    sync_cmd.add_argument(
        "--api-key",
        default=os.environ.get("TAKEBACK_API_KEY"),
        help="native API key (default: $TAKEBACK_API_KEY)",
    )
    sync_cmd.add_argument("--db", required=True, help="local SQLite file (created if missing)")
    sync_cmd.add_argument("--page-size", type=int, default=5_000, help="feed page size (1-10000)")
    sync_cmd.add_argument("--max-pages", type=int, default=None, help="stop after N feed pages")
    sync_cmd.add_argument("--follow", action="store_true", help="keep polling after catching up")
    sync_cmd.add_argument("--interval", type=float, default=300.0, help="seconds between polls")
    sync_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    sync_cmd.add_argument(
        "--no-acknowledge",
        action="store_true",
        help="don't report the applied feed position to the server",
    )

    check_cmd = commands.add_parser("check", help="hash files and look them up locally")
    check_cmd.add_argument("--db", required=True)
    check_cmd.add_argument("files", nargs="+", metavar="FILE")
    for algorithm, threshold in NEAR_THRESHOLDS.items():
        check_cmd.add_argument(
            f"--{algorithm}-threshold",
            type=int,
            default=threshold,
            help=f"max {algorithm} Hamming distance (default {threshold})",
        )

    serve_cmd = commands.add_parser("serve-index", help="answer lookups over loopback HTTP")
    serve_cmd.add_argument("--db", required=True)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8765)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sync":
            return _sync(args)
        if args.command == "check":
            return _check(args)
        from hashing.platform.serve import serve

        serve(args.db, host=args.host, port=args.port)  # pragma: no cover - runs until killed
        return EXIT_NO_MATCH  # pragma: no cover
    except (ApiError, SyncError, StoreError) as exc:
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
        checker = Checker(store, thresholds=thresholds)
        code = EXIT_NO_MATCH
        for path in args.files:
            result = checker.check_file(path)
            print(json.dumps(result), flush=True)
            if "error" in result:
                code = EXIT_ERROR
            elif result["match"] and code == EXIT_NO_MATCH:
                code = EXIT_MATCH
    return code


if __name__ == "__main__":
    sys.exit(main())
