"""`tidings sources list|check|import|export`."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone

from .config import load
from .store import Store

WEEK = 7 * 86400


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def health(cfg, now: float | None = None, stale_days: float = 7) -> list[dict]:
    """One row per configured source: ok / failing / stale / new, with the figures behind it."""
    now = now or time.time()
    rows = []
    with Store(cfg.store_path) as store:
        store.sync_sources(cfg.feed_sources())
        recent = dict(store.db.execute(
            "SELECT source_key, count(*) FROM items WHERE state = 'published' AND first_seen >= ? GROUP BY source_key",
            (now - WEEK,)))
        latest = dict(store.db.execute("SELECT source_key, max(first_seen) FROM items GROUP BY source_key"))
        for r in store.source_rows():
            if r["error_count"]:
                state = "failing"
            elif r["last_success"] is None:
                state = "new"
            elif (latest.get(r["key"]) or 0) < now - stale_days * 86400:
                state = "stale"
            else:
                state = "ok"
            rows.append({"category": r["category"], "source": r["source"], "channel": r["channel"], "url": r["url"],
                         "state": state, "last_success": r["last_success"], "last_error": r["last_error"],
                         "errors_in_a_row": r["error_count"], "items_7d": recent.get(r["key"], 0)})
    return rows


def main(args) -> int:
    cfg = load(args.config)
    if args.action in ("list", "check"):
        rows = health(cfg)
        if args.json:
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
            print()
            return 0
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} sources")
        for col in ("source", "state", "last success", "last error", "in a row", "items 7d"):
            table.add_column(col)
        colour = {"ok": "green", "failing": "red", "stale": "yellow", "new": "cyan"}
        for r in rows:
            label = " › ".join(x for x in (r["category"], r["source"], r["channel"]) if x)
            table.add_row(label, f"[{colour[r['state']]}]{r['state']}[/]", _when(r["last_success"]),
                          r["last_error"] or "", str(r["errors_in_a_row"]), str(r["items_7d"]))
        Console(width=160 if not sys.stdout.isatty() else None).print(table)
        return 3 if args.action == "check" and any(r["state"] == "failing" for r in rows) else 0
    from .cli import UsageError

    raise UsageError(f"sources {args.action}: not available yet")
