"""An incremental build: the pages, feeds and sitemap files that the journaled changes touch, and no others.

The store's change journal (Store.site_changes) says which items changed since the last build and where they
were before. Each change *touches* positions: where the item was, where it is now, and, for the members of
its story and the items of a tag that gained or lost its page, where those are. From the touches:

* each channel whose item pages change is read newest first down to its oldest touch and two items past it
  (the page of the first needs the second as its older neighbour);
* each listing (home, category nodes, months, tags) is read down to the page that holds its oldest touch
  (pagination counts from the oldest item, so pages below it hold the same items as before), and also far
  enough for its feeds and for the newest numbered page (whose "newer" link follows the first page);
* each day of a changed item gets its sitemap file again; the category tree and archive pages are redone.

Pages found unchanged by their fingerprint are not rendered. Pages that no longer exist (an item removed, a
listing shorter or gone) are retired: deleted at the end. What a full build would make differently cannot be
reached from the touches — a directory of a node or tag that moved — so those builds fall back to a full one.
tests/site/test_incremental_property.py checks that an incremental build equals a full one, byte for byte.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ...model import ItemState
from ...store import ALL_ITEMS, Counts, ItemFilter, ItemKey, ItemRef, SiteChange, SourcePath, Store, StoryMember
from . import feeds, lists, search, urls
from .context import BuildContext, Entry, Tree
from .generators import Generators, recorded_fingerprint, sitemap_day_paths
from .manifest import Output
from .state import CHANGES_MAX, SiteState, listing_counts, listing_key, parse_listing_key
from .stories import Hidden, StoryIndex
from .stream import ItemStream
from .writer import SiteWriter

if TYPE_CHECKING:
    from . import SiteReport

_FEED_NAMES = ("rss.xml", "atom.xml", "feed.json")
Listing = tuple[str, Any]  # (kind, key) as Listings.listing takes them


@dataclass
class Touches:
    """Where the changes are: the oldest touched time per channel and per listing, and the touched days."""

    channels: dict[tuple[str, ...], float] = field(default_factory=dict)
    listings: dict[Listing, float] = field(default_factory=dict)
    days: set[date] = field(default_factory=set)

    def add(self, node: tuple[str, ...], published: float, keywords: tuple[str, ...], tree: Tree, tz: Any,
            tags: set[str]) -> None:
        self.channels[node] = min(self.channels.get(node, math.inf), published)
        local = datetime.fromtimestamp(published, UTC).astimezone(tz)
        listings: list[Listing] = [("home", None), *(("node", n) for n in tree.chain(node)),
                                   ("month", (local.year, local.month)), *(("tag", w) for w in keywords if w in tags)]
        for key in listings:
            self.listings[key] = min(self.listings.get(key, math.inf), published)


class View(NamedTuple):
    """An item as the site sees it at one time: where it is listed, and in which story."""

    key: ItemKey
    node: tuple[str, ...]
    published: float
    story: str
    keywords: tuple[str, ...]

    def member(self, names: tuple[str, str, str]) -> StoryMember:
        return StoryMember(self.key.source_key, self.key.id, self.published, "", "", *names)


def _hidden(views: list[View], paths: dict[str, SourcePath], tz: Any) -> dict[ItemKey, Hidden]:
    """Where each of these items is not listed because of its story (StoryIndex's rule)."""
    stories: dict[str, list[StoryMember]] = {}
    for v in sorted(views, key=lambda v: (v.published, v.key.source_key, v.key.id)):
        if v.story:
            stories.setdefault(v.story, []).append(v.member(paths[v.key.source_key]))
    return StoryIndex(stories, tz).hidden


def _recount(state: SiteState, changes: list[SiteChange], refs: dict[ItemKey, ItemRef],
             node_of: dict[str, tuple[str, ...]],
             paths: dict[str, SourcePath], tz: Any) -> tuple[Counts, Counter[str], Counter[str]]:
    """Every item's counts (Counts), the listings' counts (by listing_key) and the keywords' listed counts,
    from the last build's and what changed: each touched item — changed, or in a story a changed item was
    or is in — is taken out as it was and put back as it is."""
    first: dict[ItemKey, SiteChange] = {}
    for c in changes:
        first.setdefault(ItemKey(c.source_key, c.id or ""), c)  # the oldest row: the item at the last build
    before: list[View] = []
    after: list[View] = []
    for key, r in refs.items():
        node = node_of[key.source_key]
        was = first.get(key)
        if was is None:  # a story member that did not change
            before.append(View(key, node, r.published, r.story, r.keywords))
        elif was.state == ItemState.PUBLISHED and was.published is not None:
            before.append(View(key, node, was.published, was.story or "", r.keywords))
        if r.visible:
            after.append(View(key, node, r.published, r.story, r.keywords))
    raw = state.counts()
    listed = Counter(state.listings)
    keywords = Counter(state.keywords)
    for views, sign in ((before, -1), (after, 1)):
        hidden = _hidden(views, paths, tz)
        for v in views:
            local = datetime.fromtimestamp(v.published, UTC).astimezone(tz)
            day = local.date()
            raw.total += sign
            raw.days[day] += sign
            raw.heads[(day, v.key.id[:1])] += sign
            for i in range(1, len(v.node) + 1):
                raw.nodes[v.node[:i]] += sign
            h = hidden.get(v.key)
            if h is None:
                listed[listing_key("home", None)] += sign
                for w in v.keywords:
                    keywords[w] += sign
            for i in range(1, len(v.node) + 1):
                if h is None or v.node[:i] not in h.nodes:
                    listed[listing_key("node", v.node[:i])] += sign
            if h is None or not h.month:
                listed[listing_key("month", (local.year, local.month))] += sign
    return raw, listed, keywords


def _touches(store: Store, changes: list[SiteChange], refs: dict[ItemKey, ItemRef],
             members: dict[str, list[StoryMember]], node_of: dict[str, tuple[str, ...]], tree: Tree,
             state: SiteState, out: Output, tz: Any) -> Touches:
    """Where the changes are: each changed item where it was and where it is (its old page retired if it
    moved or went), the members of the stories it was or is in, and the items of tags that gained or lost
    their page (their tag chips change)."""
    touches = Touches()
    tag_names = set(tree.tags) | set(state.tag_dirs)

    def touch(source_key: str, published: float, keywords: tuple[str, ...]) -> None:
        node = node_of.get(source_key)
        if node is not None:
            touches.add(node, published, keywords, tree, tz, tag_names)

    for c in changes:
        r = refs[ItemKey(c.source_key, c.id or "")]
        now = _item_path(r.source_key, r.id, r.published, tz) if r.visible else None
        if c.published is not None:
            touch(c.source_key, c.published, r.keywords)
            touches.days.add(_local_day(c.published, tz))
            before = _item_path(c.source_key, r.id, c.published, tz)
            if before != now:
                out.retire(before)
        if r.visible:
            touch(r.source_key, r.published, r.keywords)
            touches.days.add(_local_day(r.published, tz))
    for ms in members.values():
        for m in ms:
            ref = refs[m.key]
            touch(ref.source_key, ref.published, ref.keywords)
    flipped = set(tree.tags) ^ set(state.tag_dirs)  # tags that gained or lost their page: chips change
    for ref in store.keyword_refs(flipped):
        touch(ref.source_key, ref.published, ref.keywords)
    return touches


def build_delta(store: Store, ctx: BuildContext, out_dir: Path, site: str, state: SiteState, since: str,
                t0: float) -> SiteReport | None:
    """Build what the changes after journal position `since` touch; None (having written nothing) when only a
    full build can do it."""
    from . import SiteReport

    cfg, tz = ctx.cfg, ctx.tz
    with store.snapshot():
        mark = store.site_journal_mark()
        changes = store.site_changes(since, CHANGES_MAX)
        if changes is None or any(c.id is None for c in changes):
            return None  # too many to follow, or a source renamed or switched off
        paths = store.source_paths()
        node_of = {k: tuple(c for c in names if c) for k, names in paths.items()}
        keys = {ItemKey(c.source_key, c.id or "") for c in changes}
        if any(k.source_key not in node_of for k in keys):
            return None  # an item of a source that is not configured any more
        story_ids = {c.story for c in changes if c.story}
        refs = {r.key: r for r in store.item_refs(keys)}
        if len(refs) < len(keys):
            return None  # a row gone from the store: what it was (its keywords) is not known any more
        story_ids |= {r.story for r in refs.values() if r.story}
        members = store.story_members(story_ids)
        more = {m.key for ms in members.values() for m in ms} - set(refs)
        refs.update((r.key, r) for r in store.item_refs(more))
        raw, listed, keywords = _recount(state, changes, refs, node_of, paths, tz)
        if cfg.search:
            _heads(store, raw, state, tz)
        else:
            raw.heads.clear()
        tags = {w: n for w, n in keywords.items() if n >= cfg.tag_min_items} if cfg.tag_min_items else {}
        counts = Counts(raw.total, +raw.nodes, +raw.days, +raw.heads)
        tree = Tree(_listed_counts(listed), tags)
        node_dirs = {"\t".join(n): d for n, d in tree.segs.items()}
        if any(node_dirs.get(n, d) != d for n, d in state.node_dirs.items()) or any(
                tree.tag_segs.get(w, d) != d for w, d in state.tag_dirs.items()):
            return None  # a new name took the directory of an old one: links everywhere change
        stories = StoryIndex(members, tz, store.story_members)

        out = Output(out_dir, store, site, complete_record=False)
        writer = SiteWriter(ctx, out, workers=False)
        gens = Generators.create(ctx, writer, tree, store, True, None, counts, stories, site_feeds=False)
        touches = _touches(store, changes, refs, members, node_of, tree, state, out, tz)
        now_counts = listing_counts(tree)
        for key, n in now_counts.items():
            if state.listings.get(key) != n:
                touches.listings.setdefault(parse_listing_key(key), math.inf)

        for node, oldest in sorted(touches.channels.items()):
            _item_pages(gens, ctx, store, tree, writer, stories, node, node_of, oldest)
        for (kind, key), oldest in sorted(touches.listings.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
            _listing(gens, ctx, store, tree, writer, stories, kind, key, node_of, oldest,
                     state.listings.get(listing_key(kind, key), 0))
        gens.feeds.generate()
        gens.archives.generate()
        _retire_listings(out, state, now_counts, ctx.cfg.per_page, tree)
        for day in sorted(touches.days):
            _sitemap_day(gens, ctx, store, tree, writer, stories, out, day, counts.days.get(day, 0),
                         state.days.get(day.isoformat(), 0))
        gens.sitemap.generate()
        for k in range(_pages_files(now_counts) + 1, _pages_files(state.listings) + 1):
            out.retire(f"sitemaps/pages-{k}.xml")
    if cfg.search and {s.name for s in gens.search.shards} != set(state.shards):
        gens.search.generate()  # the search page lists the bundles
    out.delete_stale()
    out.flush()
    stats = gens.search.index(state.shards, _shard_fingerprints(out, state, ctx))
    out.save(True)
    added = sum(1 for p in out.written if out.old(p) is None)
    state.files += added - len(out.stale())
    state.set_counts(counts, tree)
    state.keywords = {w: n for w, n in keywords.items() if n > 0}
    state.node_dirs, state.tag_dirs = node_dirs, dict(tree.tag_segs)
    state.shards, state.globs = gens.search.recorded, {s.name: s.glob for s in gens.search.shards}
    store.save_site_build(site, mark, state.dumps())  # (the directory has the token already)
    return SiteReport(written=len(out.written), unchanged=out.unchanged, deleted=len(out.deleted),
                      elapsed=time.perf_counter() - t0, items=counts.total, search_shards=stats.shards,
                      search_indexed=stats.indexed, search_seconds=stats.seconds, written_files=list(out.written),
                      deleted_files=list(out.deleted))


def _listed_counts(listed: Counter[str]) -> Counts:
    """The listings' counts as a Tree takes them (a month's count on its first day)."""
    counts = Counts(listed.get(listing_key("home", None), 0))
    for text, n in listed.items():
        kind, key = parse_listing_key(text)
        if n > 0 and kind == "node":
            counts.nodes[key] = n
        elif n > 0 and kind == "month":
            counts.days[date(key[0], key[1], 1)] = n
    return counts


def _heads(store: Store, raw: Counts, state: SiteState, tz: Any) -> None:
    """Counts.heads for the days of more than search.SHARD_MAX items: carried over for days that were that
    big at the last build, read from the store for days that just became so."""
    recorded = {date.fromisoformat(k.partition("\t")[0]) for k in state.heads}
    kept: Counter[tuple[date, str]] = Counter()
    for (day, c), k in raw.heads.items():
        if raw.days.get(day, 0) > search.SHARD_MAX and day in recorded:
            kept[(day, c)] = k
    for day, n in raw.days.items():
        if n > search.SHARD_MAX and day not in recorded:
            span = _local_span(day, day + timedelta(days=1), tz)
            for c, k in store.day_heads(span.since or 0.0, span.until or 0.0).items():
                kept[(day, c)] += k
    raw.heads.clear()
    raw.heads.update(kept)


def _pages_files(listings: dict[str, int]) -> int:
    """Files of sitemaps/pages*.xml for these listings (Sitemap.generate: home, categories, archives, then
    every node, year, month and tag)."""
    keys = [parse_listing_key(k) for k in listings]
    years = {key[0] for kind, key in keys if kind == "month"}
    n = 3 + sum(kind != "home" for kind, _ in keys) + len(years)
    return -(-n // feeds.SITEMAP_MAX)


def _local_day(published: float, tz: Any) -> date:
    return datetime.fromtimestamp(published, UTC).astimezone(tz).date()


def _item_path(source_key: str, item_id: str, published: float, tz: Any) -> str:
    return urls.item_path(datetime.fromtimestamp(published, UTC).astimezone(tz), urls.item_uid(source_key, item_id))


def _local_span(first: date, after: date, tz: Any) -> ItemFilter:
    """Items published from local midnight of `first` to local midnight of `after`."""
    return ItemFilter(since=datetime.combine(first, dtime(), tz).timestamp(),
                      until=datetime.combine(after, dtime(), tz).timestamp())


def _entries(ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter, stories: StoryIndex,
             where: ItemFilter) -> Iterator[Entry]:
    return iter(ItemStream(ctx, store, tree, writer, True, stories, where))


def _item_pages(gens: Generators, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter,
                stories: StoryIndex, node: tuple[str, ...], node_of: dict[str, tuple[str, ...]],
                since: float) -> None:
    """The channel's item pages from its newest down to the first item older than `since` (read one more,
    its older neighbour)."""
    sources = tuple(sorted(k for k, n in node_of.items() if n == node))
    below = 0
    for entry in _entries(ctx, store, tree, writer, stories, ItemFilter(sources=sources)):
        gens.items.add(entry)
        if entry.item.published.timestamp() < since:
            below += 1
            if below == 2:
                gens.items.drop(node)
                return
    gens.items.generate()  # the channel's oldest item: no older neighbour


def _listing(gens: Generators, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter,
             stories: StoryIndex, kind: str, key: Any, node_of: dict[str, tuple[str, ...]], since: float,
             old_n: int) -> None:
    """One listing's pages from the first down to the page of its oldest touch (and its feeds); `old_n`: the
    items it listed at the last build."""
    n = _listed(tree, kind, key)
    if n == 0 and kind != "home":
        return  # gone: _retire_listings deletes its pages
    feed: list[Any] | None = None
    if kind == "home":
        where, feed = ALL_ITEMS, gens.feeds.lists.setdefault((), [])
    elif kind == "node":
        where = ItemFilter(sources=tuple(sorted(k for k, p in node_of.items() if p[:len(key)] == key)))
        feed = gens.feeds.lists.setdefault(key, [])
    elif kind == "month":
        first = date(key[0], key[1], 1)
        where = _local_span(first, (first + timedelta(days=32)).replace(day=1), ctx.tz)
    else:
        where, feed = ItemFilter(keyword=key), gens.feeds.tag_lists.setdefault(key, [])
    listing = gens.listings.listing(kind, key)
    pager, per = listing.pager, listing.pager.per
    stop = n
    rank = 0
    below = False
    for entry in _entries(ctx, store, tree, writer, stories, where):
        hidden = entry.hidden
        if hidden is not None and (kind in ("home", "tag") or (kind == "node" and key in hidden.nodes)
                                   or (kind == "month" and hidden.month)):
            continue
        if kind == "month" and (entry.local.year, entry.local.month) != key:
            continue
        if not below and entry.item.published.timestamp() < since:
            below = True
            low = pager.page_of(rank)
            if pager.numbered:
                # down to the page of the oldest touch, and to the newest numbered pages before and now (the
                # newest one's "newer" link is the first page, any other's the page above it); a listing that
                # had no numbered page has all of them new
                old_top = lists.Paginator(pager.base, old_n, per).numbered
                k = min(low if low >= 1 else pager.numbered, max(pager.numbered - 1, 1), old_top or 1)
                stop = max(n - (k - 1) * per, min(n, ctx.cfg.feed_items))
        if rank >= stop:
            break
        listing.add(entry.summary)
        if feed is not None:
            gens.feeds.add_to(feed, entry)
        rank += 1
    listing.close()


def _listed(tree: Tree, kind: str, key: Any) -> int:
    if kind == "home":
        return tree.counts.total
    if kind == "node":
        return tree.counts.nodes.get(key, 0)
    if kind == "month":
        return tree.counts.months().get(key, 0)
    return tree.tags.get(key, 0)


def _retire_listings(out: Output, state: SiteState, now: dict[str, int], per_page: int, tree: Tree) -> None:
    """Retire the numbered pages a listing no longer has, and every page and feed of a listing that is gone;
    and the archive pages of years that are gone."""
    for text, old_n in state.listings.items():
        new_n = now.get(text, 0)
        kind, key = parse_listing_key(text)
        if kind == "home":
            base = ""
        elif kind == "node":
            base = state.node_dirs.get("\t".join(key), "")
        elif kind == "month":
            base = f"archives/{key[0]:04d}/{key[1]:02d}/"
        else:
            base = state.tag_dirs.get(key, "")
        if kind != "home" and not base:
            continue
        old_pages = lists.Paginator(base, old_n, per_page).numbered
        new_pages = lists.Paginator(base, new_n, per_page).numbered if new_n else 0
        for k in range(new_pages + 1, old_pages + 1):
            out.retire(urls.page_path(base, k))
        if new_n == 0 and kind != "home":
            out.retire(base + "index.html")
            if kind != "month":
                for name in _FEED_NAMES:
                    out.retire(base + name)
    years = {y["year"] for y in tree.years}
    for text in state.listings:
        kind, key = parse_listing_key(text)
        if kind == "month" and key[0] not in years:
            out.retire(f"archives/{key[0]:04d}/index.html")


def _sitemap_day(gens: Generators, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter,
                 stories: StoryIndex, out: Output, day: date, n: int, old_n: int) -> None:
    """One day's sitemap files again; those it no longer has are retired."""
    made: list[str] = []
    if n:
        lines = [gens.sitemap.line(urls.item_path(it.published.astimezone(ctx.tz), urls.item_uid(it.source_key, it.id)),
                                   it)
                 for it in store.iter_site_items(False, _local_span(day, day + timedelta(days=1), ctx.tz))]
        made = gens.sitemap.write_day(day, lines)
    for path in sitemap_day_paths(day, old_n) if old_n else ():
        if path not in made:
            out.retire(path)


def _shard_fingerprints(out: Output, state: SiteState, ctx: BuildContext) -> Any:
    """Search.index's fingerprint for an incremental build: a shard none of whose days had a page written
    or deleted keeps the fingerprint recorded; the others are made from the record of their days."""
    touched = {p[: p.rfind("/") + 1] for p in (*out.written, *out.deleted) if p.startswith("a/")}
    language = ctx.cfg.language

    def fingerprint(shard: search.Shard) -> str:
        old = state.shards.get(shard.name)
        if old is not None and state.globs.get(shard.name) == shard.glob and touched.isdisjoint(shard.day_dirs()):
            return old
        return recorded_fingerprint(out, language, shard)

    return fingerprint
