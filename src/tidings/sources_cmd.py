"""`tidings sources list|check|import|export`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from .config import Config, load
from .store import open_store

if TYPE_CHECKING:
    from .catalog import SourceSpec

WEEK = 7 * 86400


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


class HealthState(StrEnum):
    """A source's state in `sources list|check`; the values are what the table and `--json` print."""

    OK = "ok"
    FAILING = "failing"  # its last fetch failed
    STALE = "stale"  # fetched, but no new item for `stale_days`
    NEW = "new"  # never fetched


_COLOUR = {HealthState.OK: "green", HealthState.FAILING: "red", HealthState.STALE: "yellow",
           HealthState.NEW: "cyan"}


class HealthRow(TypedDict):
    """One source in `sources check --json`, keys in the order printed (unix seconds UTC)."""

    category: str
    source: str
    channel: str
    url: str
    state: HealthState
    last_success: float | None
    last_error: str | None
    last_note: str | None
    errors_in_a_row: int
    items_7d: int
    next_fetch: float | None


def health(cfg: Config, now: float | None = None) -> list[HealthRow]:
    """One row per configured source, with its state and the figures behind it."""
    now = now or time.time()
    stale_days = cfg.stale_days
    rows: list[HealthRow] = []
    with open_store(cfg.store_path) as store:
        store.sync_sources(cfg.feed_sources())
        for r in store.source_health(since=now - WEEK):
            if r.error_count:
                state = HealthState.FAILING
            elif r.last_success is None:
                state = HealthState.NEW
            elif (r.last_first_seen or 0) < now - stale_days * 86400:
                state = HealthState.STALE
            else:
                state = HealthState.OK
            rows.append(HealthRow(category=r.category, source=r.source, channel=r.channel, url=r.url, state=state,
                                  last_success=r.last_success, last_error=r.last_error, last_note=r.last_note,
                                  errors_in_a_row=r.error_count, items_7d=r.items_since,
                                  next_fetch=r.next_fetch))
    return rows


def job_line(cfg: Config) -> str | None:
    """`jobs: N queued, N running, N failed, N stalled` where workers use the store's database, else None."""
    from .store import is_url

    if not is_url(cfg.store_path):
        return None
    from .worker import job_summary

    s = job_summary(cfg)
    if s is None:
        return None
    line = f"jobs: {s['queued']} queued, {s['running']} running, {s['failed']} failed, {s['stalled']} stalled"
    per_queue = ", ".join(f"{name} {q['todo']}/{q['doing']}/{q['failed']}" for name, q in sorted(s["queues"].items()))
    return f"{line} (queued/running/failed per queue: {per_queue})" if per_queue else line


def import_sources(args: argparse.Namespace) -> int:
    """Exit 0: every entry read was added (or was there, or filtered out); 3: some entries were skipped, each
    named in a warning, the rest added; 2: nothing to import (unreadable, no entries, or all skipped)."""
    from .catalog import CatalogError, append_sources
    from .catalog.load import FORMAT_NAMES, catalog_from_bytes, detect_format, read_location
    from .display import EXIT_OK, EXIT_SOURCES_FAILED
    from .errors import UsageError

    where = args.location
    try:
        data = read_location(where)
        specs, warnings = catalog_from_bytes(data, where, lang=args.lang)
    except CatalogError as e:
        raise UsageError(str(e)) from None  # the message names the location already

    def show_warnings() -> None:
        sys.stdout.flush()  # "warnings below": after the summary, also when both streams go to one terminal
        for w in warnings:
            print(f"warning: {where}:{w.line}: {w.message}" if w.line else f"warning: {where}: {w.message}",
                  file=sys.stderr)

    if not specs:
        show_warnings()
        if warnings:
            raise UsageError(f"{where}: nothing imported: all {len(warnings)} entries found were skipped "
                             "(warnings above)")
        raise UsageError(f"{where}: no routes or feeds found in it (read as {FORMAT_NAMES[detect_format(data)]}); "
                         "tidings imports RSSHub documentation Markdown, RSSHub /api/namespace JSON, OPML, "
                         "or a feed by its URL")
    if detect_format(data) == "feed":
        specs = [_as_route_if_on_instance(spec, args.config) for spec in specs]
    dry_run = args.dry_run
    result = append_sources(args.config, specs, category=args.category, route=args.route, dry_run=dry_run)
    if specs and len(result.filtered) == len(specs):
        show_warnings()
        wanted = " and ".join(f"{flag} {v}" for flag, v in (("--category", args.category), ("--route", args.route))
                              if v)
        categories = ", ".join(dict.fromkeys(s.category for s in specs if s.category)) or "none"
        raise UsageError(f"{where}: {wanted} matches none of the {len(specs)} entries (their categories: "
                         f"{categories})")
    if not args.quiet:
        for spec in result.added:
            print(f"+ {spec.label}  {spec.route or spec.url}")
        for _spec, reason in result.skipped:
            print(f"= {reason}")
    counts = [f"{len(result.added)} {'would be added' if dry_run else 'added'}"]
    counts += [f"{n} {label}" for n, label in ((len(result.skipped), "already there"),
                                               (len(result.filtered), "filtered out"),
                                               (len(warnings), "skipped (warnings below)")) if n]
    tail = f"nothing written to {args.config} (--dry-run)" if dry_run else f"→ {args.config}"
    print(f"{', '.join(counts)}; {tail}" if dry_run else f"{', '.join(counts)} {tail}")
    show_warnings()
    if result.written:
        load(args.config)  # the edited file must still be a valid configuration
    return EXIT_SOURCES_FAILED if warnings else EXIT_OK


def _as_route_if_on_instance(spec: SourceSpec, config: Path | str) -> SourceSpec:
    """A feed URL on the configured RSSHub instance is kept as its route, so a later change of `rsshub:` applies."""
    from dataclasses import replace

    from .catalog import CatalogError, read_config_sources

    try:
        _, rsshub, _ = read_config_sources(config)
    except CatalogError:
        return spec
    base = rsshub.rstrip("/") + "/"
    if spec.url and spec.url.startswith(base) and len(spec.url) > len(base):
        return replace(spec, route="/" + spec.url[len(base):], url=None)
    return spec


def export_sources(args: argparse.Namespace) -> int:
    from .catalog import SourceSpec, export_opml

    cfg = load(args.config)
    specs = [SourceSpec(category=s.category, source=s.source, channel=s.channel, route=s.route, url=s.url,
                        limit=s.limit if s.limit != 15 else None) for s in cfg.sources]
    data = export_opml(specs, cfg.rsshub, cfg.site.title)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {len(specs)} sources to {args.output}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def main(args: argparse.Namespace) -> int:
    if args.action == "import":
        return import_sources(args)
    if args.action == "export":
        return export_sources(args)
    cfg = load(args.config)
    if args.action in ("list", "check"):
        rows = health(cfg)
        code = 3 if args.action == "check" and any(r["state"] is HealthState.FAILING for r in rows) else 0
        if args.json:
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
            print()
            return code
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{len(rows)} sources")
        for col in ("source", "state", "last success", "last error / note", "in a row", "items 7d", "next fetch"):
            table.add_column(col)
        for r in rows:
            label = " › ".join(x for x in (r["category"], r["source"], r["channel"]) if x)
            table.add_row(label, f"[{_COLOUR[r['state']]}]{r['state']}[/]", _when(r["last_success"]),
                          r["last_error"] or (f"[yellow]note:[/] {escape(r['last_note'])}" if r["last_note"] else ""),
                          str(r["errors_in_a_row"]), str(r["items_7d"]),
                          _when(r["next_fetch"]) if r["next_fetch"] else "now")
        console = Console(width=180 if not sys.stdout.isatty() else None)
        console.print(table)
        if args.action == "check":
            jobs = job_line(cfg)
            if jobs:
                console.print(jobs)
        return code
    return 0
