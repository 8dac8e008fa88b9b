"""`torghut-assets`: operator commands that are not Dagster runs (migrations, dev seeding)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from torghut_assets.ledger.engine import LedgerConfigError, create_ledger_engine, default_database_url


def _url(explicit: str | None) -> str:
    import os

    return explicit or os.environ.get("TORGHUT_DATABASE_URL") or default_database_url()


def _db_upgrade(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, upgrade

    engine = create_ledger_engine(_url(args.url))
    upgrade(engine, args.revision)
    print(f"ledger {engine.url.render_as_string(hide_password=True)} at revision {current_revision(engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, head_revision

    engine = create_ledger_engine(_url(args.url))
    current, head = current_revision(engine), head_revision()
    print(f"current={current or 'none'} head={head}")
    return 0 if current == head else 1


def _dev_seed(args: argparse.Namespace) -> int:
    from torghut_assets.dev_seed import seed_recent_windows

    for line in seed_recent_windows(windows=args.windows, market_windows=args.market_windows):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torghut-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="ledger schema migrations").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="migrate the ledger to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument(
        "--url", help="SQLAlchemy URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="print the ledger revision; exit 1 if behind head")
    cur.add_argument("--url")
    cur.set_defaults(func=_db_current)
    seed = sub.add_parser("dev-seed", help="materialize recent lane windows into the local Dagster instance")
    seed.add_argument("--windows", type=int, default=2, help="most recent closed windows per lane")
    seed.add_argument(
        "--market-windows", type=int, default=3, help="most recent market-hours windows per lane"
    )
    seed.set_defaults(func=_dev_seed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LedgerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
