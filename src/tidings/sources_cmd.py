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


def health(cfg, now: float | None = None) -> list[dict]:
    """One row per configured source: ok / failing / stale / new, with the figures behind it."""
    now = now or time.time()
    stale_days = cfg.stale_days
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
                         "errors_in_a_row": r["error_count"], "items_7d": recent.get(r["key"], 0),
                         "next_fetch": r["next_fetch"]})
    return rows


def import_sources(args) -> int:
    from .catalog import CatalogError, append_sources, load_catalog
    from .cli import UsageError, log

    if not args.location:
        raise UsageError("sources import: give a file or URL (RSSHub docs markdown, /api/namespace JSON, OPML)")
    try:
        specs, warnings = load_catalog(args.location)
    except CatalogError as e:
        raise UsageError(f"{args.location}: {e}") from None
    for w in warnings:
        log(f"{args.location}:{w.line}: {w.message}" if w.line else f"{args.location}: {w.message}")
    if not specs and warnings:
        raise UsageError(f"{args.location}: no usable routes or feeds found")
    result = append_sources(args.config, specs, category=args.category, route=args.route,
                            dry_run=getattr(args, "dry_run", False))
    for spec in result.added:
        print(f"+ {' › '.join(x for x in (spec.category, spec.source, spec.channel) if x)}  {spec.route or spec.url}")
    for spec, reason in result.skipped:
        print(f"= skipped {spec.route or spec.url}: {reason}")
    print(f"{len(result.added)} added, {len(result.skipped)} already there, {len(result.filtered)} filtered out"
          f" → {args.config}")
    load(args.config)  # the edited file must still be a valid configuration
    return 0


def export_sources(args) -> int:
    from .catalog import SourceSpec, export_opml

    cfg = load(args.config)
    specs = [SourceSpec(category=s.category, source=s.source, channel=s.channel, route=s.route, url=s.url,
                        limit=s.limit if s.limit != 15 else None) for s in cfg.sources]
    data = export_opml(specs, cfg.rsshub, cfg.site.title)
    if args.output:
        from pathlib import Path

        Path(args.output).write_bytes(data)
        print(f"wrote {len(specs)} sources to {args.output}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def main(args) -> int:
    if args.action == "import":
        return import_sources(args)
    if args.action == "export":
        return export_sources(args)
    cfg = load(args.config)
    if args.action in ("list", "check"):
        rows = health(cfg)
        code = 3 if args.action == "check" and any(r["state"] == "failing" for r in rows) else 0
        if args.json:
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
            print()
            return code
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} sources")
        for col in ("source", "state", "last success", "last error", "in a row", "items 7d", "next fetch"):
            table.add_column(col)
        colour = {"ok": "green", "failing": "red", "stale": "yellow", "new": "cyan"}
        for r in rows:
            label = " › ".join(x for x in (r["category"], r["source"], r["channel"]) if x)
            table.add_row(label, f"[{colour[r['state']]}]{r['state']}[/]", _when(r["last_success"]),
                          r["last_error"] or "", str(r["errors_in_a_row"]), str(r["items_7d"]),
                          _when(r["next_fetch"]) if r["next_fetch"] else "now")
        Console(width=180 if not sys.stdout.isatty() else None).print(table)
        return code
    return 0
