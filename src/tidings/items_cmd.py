"""`tidings items [--json] [--since DATE] [--source URL]`: every published item, newest first (SPEC §10)."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .config import Config, load
from .errors import UsageError
from .store import StoredItem, open_store

__all__ = ["item_record", "main", "records"]


def item_record(item: StoredItem, feed_url: str) -> dict[str, Any]:
    return {"id": item.id, "source": feed_url, "category": item.categories, "title": item.title,
            "link": item.link, "published": item.published.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "story": item.story or item.id, "tags": item.all_tags}


def _since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"items: --since {text!r} is not a date (2026-11-30 or 2026-11-30T08:00+08:00)") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def records(cfg: Config, since: float | None = None, source: str | None = None) -> Iterator[dict[str, Any]]:
    urls = {s.key: s.url for s in cfg.feed_sources()}
    if source is not None and source not in urls.values():
        raise UsageError(f"items: no configured source has the URL {source}")
    with open_store(cfg.store_path) as store:
        for item in store.iter_items(newest_first=True, bodies=False):
            if since is not None and item.published.timestamp() < since:
                break  # newest first: the rest are older
            url = urls.get(item.source_key, "")
            if source is None or url == source:
                yield item_record(item, url)


def main(args: argparse.Namespace) -> int:
    cfg = load(args.config)
    rows = records(cfg, _since(args.since), args.source)
    out = sys.stdout
    for r in rows:
        if args.json:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            story = "" if r["story"] == r["id"] else f"  [story {r['story']}]"
            out.write(f"{r['published'][:16].replace('T', ' ')}  {' › '.join(r['category'])}  {r['title']}{story}\n")
    return 0
