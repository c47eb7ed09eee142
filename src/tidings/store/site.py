"""The site's tables, the same on both backends: the change journal, and each site's build record and files.

* `site_changes`: one row per change to something a built site shows (an item published, edited, removed,
  moved to a story; a source renamed or switched off). Triggers write it, in the transaction that made the
  change, so no write path can forget it: an incremental build reads what changed since its last build
  from here instead of scanning the store.
* `site_builds`: per site (its output directory), the journal position its last build read to, and the
  state that build recorded (JSON the site alone reads: listing counts, search shards …).
* `site_files`: per site, every file a build wrote, with the sha256 of its bytes and the fingerprint of
  its inputs, so a build looks up the pages it may skip one by one instead of reading a manifest whole.

The SQL is written once, with `?` parameters; each backend says how it runs a statement (`_rows`, `_run`,
`_run_many`) and gives the few fragments that differ (`_ACTIVE`, `_JOIN_IN_ORDER`).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .base import (
    ItemFilter,
    ItemKey,
    ItemRef,
    SiteBuild,
    SiteChange,
    SiteFile,
    SourcePath,
    StoryMember,
    stories_from_rows,
)

_REF_COLUMNS = ("i.source_key, i.id, i.published, (i.state = 'published' AND {active}), COALESCE(i.story, ''), "
                "i.keywords")
_CHUNK = 500  # keys or values bound in one statement (under SQLite's limit on parameters)


def _after(prefix: str) -> str:
    """The least string greater than every string that starts with `prefix` (compared by code point)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SiteTables:
    """The Store protocol's journal and site-record methods, over a backend's `_rows` / `_run` / `_run_many`."""

    _ACTIVE = "s.active = 1"  # an active source, in this dialect
    _JOIN_IN_ORDER = "CROSS JOIN"  # a join whose left table the planner must read first

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _run(self, sql: str, args: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    # --- the journal ----------------------------------------------------------------------------------
    # A position is a sequence number here (SQLite: one writer at a time); PostgresStore overrides these.
    def site_journal_mark(self) -> str:
        # A snapshot holds every change up to the last sequence number it sees. The sequence, not max(seq), so
        # the position never goes back once the journal has been emptied.
        rows = self._rows("SELECT seq FROM sqlite_sequence WHERE name = 'site_changes'")
        return str(rows[0][0] if rows else 0)

    def site_changes(self, since: str, limit: int) -> list[SiteChange] | None:
        after = int(since or 0)
        if self._rows("SELECT seq FROM site_changes WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?", (after, limit)):
            return None
        return [SiteChange.from_row(r) for r in self._rows(
            "SELECT source_key, id, published, story, state FROM site_changes WHERE seq > ? ORDER BY seq", (after,))]

    def _forget_seen_changes(self) -> None:
        self._run("DELETE FROM site_changes WHERE seq <= (SELECT min(CAST(position AS INTEGER)) FROM site_builds)")

    # --- build records ----------------------------------------------------------------------------------
    def site_build(self, site: str) -> SiteBuild | None:
        rows = self._rows("SELECT position, state FROM site_builds WHERE site = ?", (site,))
        return SiteBuild(str(rows[0][0]), str(rows[0][1])) if rows else None

    def save_site_build(self, site: str, position: str, state: str) -> None:
        with self.transaction():
            self._run("INSERT INTO site_builds(site, position, state) VALUES (?, ?, ?) ON CONFLICT(site) "
                      "DO UPDATE SET position = excluded.position, state = excluded.state", (site, position, state))
            self._forget_seen_changes()

    def forget_site(self, site: str) -> None:
        with self.transaction():
            self._run("DELETE FROM site_builds WHERE site = ?", (site,))
            self._run("DELETE FROM site_files WHERE site = ?", (site,))

    def site_names(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT site FROM site_builds ORDER BY site")]

    # --- files ------------------------------------------------------------------------------------------
    def site_files(self, site: str, paths: Iterable[str] | None = None,
                   under: str | None = None) -> dict[str, SiteFile]:
        sql = "SELECT path, digest, fp, search FROM site_files WHERE site = ?"
        if paths is not None:
            wanted = list(paths)
            out: dict[str, SiteFile] = {}
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                out.update((r[0], SiteFile(r[1], r[2], r[3])) for r in self._rows(
                    f"{sql} AND path IN ({','.join('?' * len(chunk))})", (site, *chunk)))
            return out
        if under:
            return {r[0]: SiteFile(r[1], r[2], r[3]) for r in self._rows(f"{sql} AND path >= ? AND path < ?",
                                                                 (site, under, _after(under)))}
        return {r[0]: SiteFile(r[1], r[2], r[3]) for r in self._rows(sql, (site,))}

    def save_site_files(self, site: str, put: Iterable[tuple[str, str, str, str]], delete: Iterable[str]) -> None:
        rows = [(site, *row) for row in put]
        gone = [(site, p) for p in delete]
        with self.transaction():
            if gone:
                self._run_many("DELETE FROM site_files WHERE site = ? AND path = ?", gone)
            if rows:
                self._run_many("INSERT INTO site_files(site, path, digest, fp, search) VALUES (?, ?, ?, ?, ?) "
                               "ON CONFLICT(site, path) DO UPDATE SET digest = excluded.digest, fp = excluded.fp, "
                               "search = excluded.search", rows)

    # --- where items are now ------------------------------------------------------------------------------
    def _refs(self, where: str, args: Sequence[Any]) -> list[ItemRef]:
        rows = self._rows(f"SELECT {_REF_COLUMNS.format(active=self._ACTIVE)} FROM items i "
                          f"JOIN sources s ON s.key = i.source_key WHERE {where}", args)
        return [ItemRef(r[0], r[1], r[2], bool(r[3]), r[4], tuple(json.loads(r[5]))) for r in rows]

    def item_refs(self, keys: Iterable[ItemKey]) -> list[ItemRef]:
        by_source: dict[str, list[str]] = {}
        for k in keys:
            by_source.setdefault(k.source_key, []).append(k.id)
        out: list[ItemRef] = []
        for key, ids in by_source.items():
            ids = sorted(set(ids))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                out += self._refs(f"i.source_key = ? AND i.id IN ({','.join('?' * len(chunk))})", (key, *chunk))
        return out

    def story_refs(self, stories: Iterable[str]) -> list[ItemRef]:
        wanted = sorted(set(stories))
        out: list[ItemRef] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            out += self._refs(f"i.state = 'published' AND {self._ACTIVE} "
                              f"AND i.story IN ({','.join('?' * len(chunk))})", chunk)
        return out

    def keyword_refs(self, words: Iterable[str]) -> list[ItemRef]:
        out: dict[ItemKey, ItemRef] = {}
        for w in sorted(set(words)):
            for ref in self._refs(f"i.state = 'published' AND {self._ACTIVE} AND (i.source_key, i.id) IN "
                                  "(SELECT source_key, id FROM item_keywords WHERE word = ?)", (w,)):
                out[ref.key] = ref
        return list(out.values())

    def story_members(self, stories: Iterable[str]) -> dict[str, list[StoryMember]]:
        wanted = sorted(set(stories))
        out: dict[str, list[StoryMember]] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            out.update(stories_from_rows(self._rows(
                # (i.state || ''): by the story index; SQLite's planner took the state index (every published item)
                "SELECT i.story, i.source_key, i.id, i.published, i.title, i.link, s.category, s.source, s.channel "
                f"FROM items i JOIN sources s ON s.key = i.source_key WHERE (i.state || '') = 'published' "
                f"AND {self._ACTIVE} AND i.story IN ({','.join('?' * len(chunk))}) "
                "ORDER BY i.story, i.published, i.source_key, i.id",
                chunk)))
        return out

    def day_heads(self, since: float, until: float) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows(
            f"SELECT substr(i.id, 1, 1), count(*) FROM items i JOIN sources s ON s.key = i.source_key "
            f"WHERE i.state = 'published' AND {self._ACTIVE} AND i.published >= ? AND i.published < ? GROUP BY 1",
            (since, until))}

    def source_paths(self) -> dict[str, SourcePath]:
        return {r[0]: SourcePath(r[1], r[2], r[3]) for r in self._rows(
            f"SELECT s.key, s.category, s.source, s.channel FROM sources s WHERE {self._ACTIVE}")}

    def _site_sources(self) -> dict[str, tuple[str, str, str, str]]:
        """key -> (key, category, source, channel) of the active sources: what base.items_from_rows takes
        each item's names from (the site stream joins only active sources)."""
        return {k: (k, *names) for k, names in self.source_paths().items()}

    def _site_items_sql(self, where: ItemFilter) -> tuple[str, list[Any]]:
        """FROM … WHERE … ORDER BY … of iter_site_items (newest first, ties by id, then source key) and its
        arguments. Items of a keyword are read through `item_keywords`, newest first, so a rare keyword is not
        looked for in every item of the archive."""
        visible = f"i.state = 'published' AND {self._ACTIVE}"
        args: list[Any] = []
        if where.keyword is not None:
            sql = (f"FROM item_keywords k {self._JOIN_IN_ORDER} items i ON i.source_key = k.source_key AND i.id = k.id "
                   f"JOIN sources s ON s.key = i.source_key WHERE k.word = ? AND {visible}")
            args.append(where.keyword)
            order = "ORDER BY k.published DESC, k.id, k.source_key"
        else:
            sql = f"FROM items i JOIN sources s ON s.key = i.source_key WHERE {visible}"
            order = "ORDER BY i.published DESC, i.id, i.source_key"  # the date index's order: no sort
        if where.sources is not None:
            keys = list(where.sources) or [""]
            sql += f" AND i.source_key IN ({','.join('?' * len(keys))})"
            args += keys
        if where.since is not None:
            sql += " AND i.published >= ?"
            args.append(where.since)
        if where.until is not None:
            sql += " AND i.published < ?"
            args.append(where.until)
        return f"{sql} {order}", args
