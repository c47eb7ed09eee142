"""The site's generators, one per kind of output, all writing through one `SiteWriter`.

The build makes one newest-first pass over the store and hands every item (`Entry`) to the generators that
need items (`add`); once the pass is over each writes what is left (`generate`). So the store is read once
and no generator holds more than its own bounded state: item pages one pending item per channel, listings
at most two pages of summaries each, feeds their first `feed_items` items, the sitemap a temporary file.
"""
from __future__ import annotations

import functools
import json
import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ...store import Counts, ItemKey, Store, StoredItem
from . import feeds, lists, render, search, urls
from .context import BuildContext, Entry, Node, Progress, Tree, fingerprint
from .manifest import Output
from .pages import web
from .stories import NO_LINKS, StoryIndex
from .writer import SiteWriter


class Generator:
    """One kind of output. `add` takes each item of the pass, newest first; `generate` writes the rest."""

    def add(self, entry: Entry) -> None:
        """Take in one item of the pass (most generators need none)."""

    def generate(self) -> None:
        """Write what this generator makes once the pass is over."""


@dataclass(slots=True)
class _Pending:
    entry: Entry
    newer: render.Summary | None  # its newer neighbour in the channel


class ItemPages(Generator):
    """One page per item, linking its newer and older neighbours in its channel: an item's page is made
    once the pass reaches its older neighbour."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, tree: Tree, store: Store, light: bool,
                 stories: StoryIndex) -> None:
        self.ctx, self.writer, self.tree, self.store, self.light = ctx, writer, tree, store, light
        self.stories = stories
        self.pending: dict[Node, _Pending] = {}
        self._tag_hrefs: dict[str, str] = {}  # keyword -> href of its page, or "" (none)

    def add(self, entry: Entry) -> None:
        prev = self.pending.get(entry.node)
        if prev is not None:
            self._page(prev.entry, prev.newer, entry.summary)
        self.pending[entry.node] = _Pending(entry, prev.entry.summary if prev else None)

    def generate(self) -> None:
        for p in self.pending.values():
            self._page(p.entry, p.newer, None)
        self.pending.clear()

    def drop(self, node: Node) -> None:
        """Forget the channel's last item without making its page: its older neighbour was not read (an
        incremental build stops reading a channel once past what changed)."""
        self.pending.pop(node, None)

    def _tag_href(self, word: str) -> str:
        segs = self.tree.tag_segs
        href = self._tag_hrefs[word] = urls.href(segs[word]) if word in segs else ""
        return href

    def _page(self, e: Entry, newer: render.Summary | None, older: render.Summary | None) -> None:
        s = e.summary
        it = e.item
        links = self.stories.links(ItemKey(it.source_key, it.id)) if self.stories else NO_LINKS
        hrefs = self._tag_hrefs
        tags = tuple((w, hrefs[w] if w in hrefs else self._tag_href(w)) for w in it.keywords)
        fp = fingerprint(self.ctx.fp, s.key, newer.key if newer else "", older.key if older else "", links.key(),
                         repr(tags))
        if self.writer.fresh(e.path, fp):
            s.wait = False
            return
        if self.light and not it.html:
            it.html = self.store.item_html(it.source_key, it.id)
        self.writer.item_page(e.path, fp, it, s, newer, older, self.tree.crumbs(e.node), links, tags)


@dataclass(slots=True)
class _Deferred:
    """A listing page whose items' cards are still with the workers."""

    kind: str
    page: lists.Page
    items: list[render.Summary]
    extra: dict[str, Any]
    ready: int = 0  # items[:ready] are back


_WAITS = operator.attrgetter("wait")


class Listings(Generator):
    """Home, category nodes and months: newest-first listings with stable pagination (lists.py), each page
    written as soon as the pass has filled it."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, tree: Tree) -> None:
        self.ctx, self.writer, self.tree = ctx, writer, tree
        self.home = lists.Listing("", tree.counts.total, ctx.cfg.per_page, self._home_page)
        self.nodes: dict[Node, lists.Listing] = {}
        self.months: dict[tuple[int, int], lists.Listing] = {}
        self.tags: dict[str, lists.Listing] = {}
        self._month_counts = tree.counts.months()
        self._deferred: list[_Deferred] = []
        self._flushing = False
        self._numbered: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}  # (kind, base) -> extra, its JSON
        writer.on_results(self._flush)

    def add(self, entry: Entry) -> None:
        s, hidden = entry.summary, entry.hidden
        if hidden is None:
            self.home.add(s)
        nodes = self.nodes
        for node in self.tree.chain(entry.node):
            if hidden is not None and node in hidden.nodes:
                continue
            listing = nodes.get(node)
            if listing is None:
                listing = nodes[node] = self._node_listing(node)
            listing.add(s)
        if hidden is None or not hidden.month:
            ym = (entry.local.year, entry.local.month)
            listing = self.months.get(ym)
            if listing is None:
                listing = self.months[ym] = self._month_listing(ym)
            listing.add(s)
        if self.tree.tags and hidden is None:
            for w in entry.item.keywords:
                if w in self.tree.tags:
                    listing = self.tags.get(w)
                    if listing is None:
                        listing = self.tags[w] = self._tag_listing(w)
                    listing.add(s)

    def listing(self, kind: str, key: Any) -> lists.Listing:
        """The listing `kind` ('home', 'node', 'month' or 'tag') of `key` (None, a node, (year, month), a
        tag), made on first use."""
        if kind == "home":
            return self.home
        table: dict[Any, lists.Listing]
        make: Callable[[Any], lists.Listing]
        if kind == "node":
            table, make = self.nodes, self._node_listing
        elif kind == "month":
            table, make = self.months, self._month_listing
        else:
            table, make = self.tags, self._tag_listing
        listing = table.get(key)
        if listing is None:
            listing = table[key] = make(key)
        return listing

    def generate(self) -> None:
        """The listings' last pages; with workers, call once every card is back (SiteWriter.settle)."""
        for listing in (self.home, *self.nodes.values(), *self.months.values(), *self.tags.values()):
            listing.close()

    def _home_page(self, page: lists.Page, items: list[render.Summary]) -> None:
        children = self.tree.children(()) if page.number == 0 else []
        self._page("home", page, items, {"children": children, "feed_base": ""})

    def _node_listing(self, node: Node) -> lists.Listing:
        n = self.tree.counts.nodes[node]
        extra = {"heading": node[-1], "crumbs": self.tree.crumbs(node), "feed_base": urls.href(self.tree.segs[node]),
                 "description": f"{' › '.join(node)} - {self.ctx.cfg.title}", "count": n}

        def emit(page: lists.Page, items: list[render.Summary]) -> None:
            children = self.tree.children(node) if page.number == 0 else []
            self._page("node", page, items, {"children": children, **extra})

        return lists.Listing(self.tree.segs[node], n, self.ctx.cfg.per_page, emit)

    def _tag_listing(self, tag: str) -> lists.Listing:
        n, base, t = self.tree.tags[tag], self.tree.tag_segs[tag], self.ctx.t
        extra = {"heading": f"#{tag}", "crumbs": [(t["categories"], "categories/")], "feed_base": urls.href(base),
                 "description": f"{tag} - {self.ctx.cfg.title}", "count": n}
        return lists.Listing(base, n, self.ctx.cfg.per_page, functools.partial(self._page, "tag", extra=extra))

    def _month_listing(self, ym: tuple[int, int]) -> lists.Listing:
        y, m = ym
        n = self._month_counts[ym]
        extra = {"count": n, "heading": f"{y}-{m:02d}",
                 "crumbs": [(self.ctx.t["archives"], "archives/"), (str(y), f"archives/{y}/")]}
        return lists.Listing(f"archives/{y}/{m:02d}/", n, self.ctx.cfg.per_page,
                             functools.partial(self._page, "month", extra=extra))

    def _page(self, kind: str, page: lists.Page, items: list[render.Summary], extra: dict[str, Any]) -> None:
        if self.writer.offloading and any(map(_WAITS, items)):
            self._deferred.append(_Deferred(kind, page, items, extra))
            return
        first = page.number == 0
        if first:
            extra_key = json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)
        else:  # the same for every numbered page of a listing (its directory)
            numbered = self._numbered.get((kind, page.base))
            if numbered is None:
                extra = {k: v for k, v in extra.items() if k in ("heading", "crumbs", "feed_base")}
                numbered = self._numbered[(kind, page.base)] = (
                    extra, json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str))
            extra, extra_key = numbered
        fp = fingerprint(self.ctx.fp, kind, page.path, page.newer or "", page.older or "", extra_key,
                         "\n".join([s.key for s in items]))
        if self.writer.fresh(page.path, fp):
            return
        t, cfg = self.ctx.t, self.ctx.cfg
        heading = extra.get("heading") or ""
        label = t["page"].format(n=page.number) if page.number else ""
        page_title = (f"{heading} · {label}" if heading else label) if page.number else heading
        ctx = {k: v for k, v in extra.items() if k != "description"}
        # Rendered here, not by a worker: ~30 finished cards cost more to pickle and send than to render. A
        # listing's numbered pages differ only in writer.LISTING_VALUES: they share shells of list.html.
        shell = None if first else (kind, extra_key)
        self.writer.listing(page.path, fp, items, shell, kind=kind, pager=page, first=first, page_title=page_title,
                            description=extra.get("description", "") or cfg.description or cfg.title,
                            newer=urls.href(page.newer) if page.newer is not None else None,
                            older=urls.href(page.older) if page.older is not None else None,
                            page_label=label, **ctx)

    def _flush(self) -> None:
        """Render the deferred pages whose cards have all come back. Rendering them sends jobs, which brings
        results back, which may complete more pages: hence the loop (and no recursion)."""
        if not self._deferred or self._flushing:
            return
        self._flushing = True
        try:
            while self._deferred:
                ready: list[_Deferred] = []
                keep: list[_Deferred] = []
                for d in self._deferred:
                    while d.ready < len(d.items) and not d.items[d.ready].wait:
                        d.ready += 1
                    (ready if d.ready == len(d.items) else keep).append(d)
                self._deferred = keep
                if not ready:
                    break
                for d in ready:
                    self._page(d.kind, d.page, d.items, d.extra)
        finally:
            self._flushing = False


_FEED_FILES = (("rss.xml", "rss"), ("atom.xml", "atom"), ("feed.json", "json_feed"))


class Feeds(Generator):
    """RSS, Atom and JSON Feed for the site and every node: their newest `feed_items` items."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, tree: Tree, store: Store, *, site: bool = True) -> None:
        self.ctx, self.writer, self.tree, self.store = ctx, writer, tree, store
        # the site's own feeds are made even with no item; an incremental build asks for the ones it needs
        self.lists: dict[Node, list[feeds.FeedItem]] = {(): []} if site else {}
        self.tag_lists: dict[str, list[feeds.FeedItem]] = {}

    def add(self, entry: Entry) -> None:
        limit, lists_, hidden = self.ctx.cfg.feed_items, self.lists, entry.hidden
        item = None
        for node in self.tree.lineage(entry.node):
            if hidden is not None and node in hidden.nodes:
                continue
            items = lists_.setdefault(node, [])
            if len(items) < limit:
                item = item or self._item(entry)
                items.append(item)
        for w in entry.item.keywords if self.tree.tags and hidden is None else ():
            if w in self.tree.tags:
                items = self.tag_lists.setdefault(w, [])
                if len(items) < limit:
                    item = item or self._item(entry)
                    items.append(item)

    def add_to(self, items: list[feeds.FeedItem], entry: Entry) -> bool:
        """Append the entry to one feed's items unless that feed is full; False once it is."""
        if len(items) >= self.ctx.cfg.feed_items:
            return False
        items.append(self._item(entry))
        return True

    def _item(self, e: Entry) -> feeds.FeedItem:
        """Body and excerpt are filled in only if a feed that lists the item is rendered (_load)."""
        it = e.item
        html = (it.html.decode("utf-8") if isinstance(it.html, bytes) else it.html) or None
        return feeds.FeedItem(urls.absolute(self.ctx.base_url, e.path), web(it.link), it.title, html, e.summary,
                              it.published, it.updated, it.author, list(it.categories), it.cover, e.summary.key,
                              (it.source_key, it.id))

    def generate(self) -> None:
        cfg, base_url = self.ctx.cfg, self.ctx.base_url
        todo = [(self.tree.segs[node] if node else "", f"{' › '.join(node)} - {cfg.title}" if node else cfg.title,
                 items) for node, items in self.lists.items()]
        todo += [(self.tree.tag_segs[tag], f"#{tag} - {cfg.title}", items) for tag, items in self.tag_lists.items()]
        for base, title, items in todo:
            home = urls.absolute(base_url, base + "index.html")
            meta = feeds.FeedMeta(title, cfg.description, home, home, cfg.language, self.ctx.t["original"])
            fp = fingerprint(self.ctx.fp, "feed", base, *(i.key for i in items))
            stale = [(kind, base + name) for name, kind in _FEED_FILES if not self.writer.fresh(base + name, fp)]
            if stale:
                self._load(items)
                kinds, paths = zip(*stale)
                self.writer.feeds(kinds, paths, fp, meta, items)

    def _load(self, items: list[feeds.FeedItem]) -> None:
        for i in items:
            if i.html is None:
                i.html = self.store.item_html(*i.src)
            if not isinstance(i.summary, str):
                i.summary = i.summary.excerpt
            if not i.safe:
                i.html, i.safe = render.safe_body(i.html), True


class Archives(Generator):
    """The category tree and the year pages of the archive (month pages are listings)."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, tree: Tree) -> None:
        self.ctx, self.writer, self.tree = ctx, writer, tree

    def generate(self) -> None:
        t, title, write = self.ctx.t, self.ctx.cfg.title, self.writer.page
        write("categories.html", "categories/index.html", None, offload=True, page_title=t["categories"],
              description=f"{t['categories']} - {title}", tree=self.tree.tree(), total=self.tree.counts.total,
              cloud=self.tree.cloud())
        years = self.tree.years
        write("archives.html", "archives/index.html", None, offload=True, page_title=t["archives"],
              description=f"{t['archives']} - {title}", years=years, crumbs=[])
        for y in years:
            write("archives.html", f"archives/{y['year']}/index.html", None, offload=True, page_title=str(y["year"]),
                  description=f"{y['year']} - {title}", years=[y], crumbs=[(t["archives"], "archives/")])


class Extras(Generator):
    """404.html, robots.txt and the static files."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter) -> None:
        self.ctx, self.writer = ctx, writer

    def generate(self) -> None:
        base_url, t = self.ctx.base_url, self.ctx.t
        # Served for missing URLs at any depth: links from the site's base path, not relative.
        self.writer.page("404.html", "404.html", None, page_title=t["not_found"], description=self.ctx.cfg.title,
                         root=urlsplit(base_url).path or "/")
        self.writer.write("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base_url}sitemap.xml\n".encode())

    def static(self) -> None:
        for name, path in self.ctx.static.items():
            self.writer.write(f"static/{name}", path.read_bytes())


def sitemap_day_paths(day: date, n: int) -> list[str]:
    """The sitemap files of one day of `n` items: sitemaps/<yyyy-mm-dd>.xml, then -2, -3 … past SITEMAP_MAX."""
    chunks = max(1, -(-n // feeds.SITEMAP_MAX))
    return [f"sitemaps/{day:%Y-%m-%d}{'' if k == 1 else f'-{k}'}.xml" for k in range(1, chunks + 1)]


class Sitemap(Generator):
    """sitemap.xml, an index of sitemaps/pages.xml (home, categories, archives, nodes, years, months and tags) and
    one file per day of items (sitemaps/<yyyy-mm-dd>.xml, split past feeds.SITEMAP_MAX URLs): a new item
    rewrites its day's file and the index, whatever the size of the archive."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, tree: Tree, days: Mapping[date, int]) -> None:
        self.ctx, self.writer, self.tree, self.days = ctx, writer, tree, days
        self.day: date | None = None
        self.entries: list[str] = []
        self._base = feeds.xml_escape(urls.absolute(ctx.base_url, ""))  # + an href: an XML-escaped absolute URL

    def add(self, entry: Entry) -> None:
        day = entry.local.date()
        if day != self.day:
            self._flush()
            self.day = day
        self.entries.append(self.entry(entry))

    def entry(self, entry: Entry) -> str:
        # summary.href = urls.href(path): only characters XML leaves alone, so _base + href is escaped already
        it = entry.item
        return feeds.url_entry(self._base + entry.summary.href, it.updated or it.published, escaped=True)

    def line(self, path: str, it: StoredItem) -> str:
        return feeds.url_entry(urls.absolute(self.ctx.base_url, path), it.updated or it.published)

    def _flush(self) -> None:
        if self.day is not None:
            self.write_day(self.day, self.entries)
        self.day, self.entries = None, []

    def write_day(self, day: date, entries: list[str]) -> list[str]:
        """Write one day's files (its entries newest first); returns their paths."""
        paths = sitemap_day_paths(day, len(entries))
        for k, path in enumerate(paths):
            self.writer.write(path, feeds.urlset(entries[k * feeds.SITEMAP_MAX:(k + 1) * feeds.SITEMAP_MAX]))
        return paths

    def generate(self) -> None:
        self._flush()
        base_url, tree = self.ctx.base_url, self.tree
        paths = ["index.html", "categories/index.html", "archives/index.html"]
        paths += [tree.segs[n] + "index.html" for n in sorted(tree.counts.nodes)]
        for y in tree.years:
            paths.append(f"{y['href']}index.html")
            paths += [f"{m['href']}index.html" for m in y["months"]]
        paths += [tree.tag_segs[w] + "index.html" for w in sorted(tree.tags)]
        entries = [feeds.url_entry(urls.absolute(base_url, p)) for p in paths]
        locs = []
        for k in range(0, len(entries), feeds.SITEMAP_MAX):
            locs.append(f"sitemaps/pages{'' if k == 0 else f'-{k // feeds.SITEMAP_MAX + 1}'}.xml")
            self.writer.write(locs[-1], feeds.urlset(entries[k:k + feeds.SITEMAP_MAX]))
        for day in sorted(self.days, reverse=True):
            locs += sitemap_day_paths(day, self.days[day])
        self.writer.write("sitemap.xml", feeds.sitemap_index([urls.absolute(base_url, p) for p in locs]))


def recorded_fingerprint(out: Output, language: str, shard: search.Shard) -> str:
    """A shard's fingerprint from the store's record of its pages (call once `out` is flushed)."""
    files: dict[str, Any] = {}
    for d in shard.day_dirs():
        files.update(out.store.site_files(out.site, under=d))
    for p in out.gone():
        files.pop(p, None)
    return search.shard_fingerprint(shard, files, language)


class IndexStats(NamedTuple):
    shards: int  # Pagefind bundles that make up the index
    indexed: int  # of those, re-indexed by this build
    seconds: float


class Search(Generator):
    """The search page, then (`index`, once every page is written and stale ones deleted) the Pagefind
    bundles of the shards whose pages changed."""

    def __init__(self, ctx: BuildContext, writer: SiteWriter, counts: Counts, progress: Progress | None) -> None:
        self.ctx, self.writer, self.progress = ctx, writer, progress
        self.shards = search.plan(counts.days, heads=counts.heads) if ctx.cfg.search else []
        self.recorded: dict[str, str] = {}  # shard -> fingerprint, once index() has run

    def generate(self) -> None:
        if self.ctx.cfg.search:
            t = self.ctx.t
            self.writer.page("search.html", "search/index.html", None, page_title=t["search"],
                             description=f"{t['search']} - {self.ctx.cfg.title}",
                             bundles=[f"{search.BUNDLE_DIR}/{s.name}/" for s in self.shards])

    def index(self, old: Mapping[str, str], fingerprint: Callable[[search.Shard], str] | None = None) -> IndexStats:
        """Index the shards whose fingerprint differs from `old` (shard name -> fingerprint, as the last build
        recorded them) or whose bundle is missing; `recorded` then holds what to record. `fingerprint` of a
        shard defaults to recorded_fingerprint (`out` must be flushed)."""
        t0 = time.perf_counter()
        out = self.writer.out
        self.recorded = {}
        if not self.ctx.cfg.search:
            search.remove_bundles(out.dir, [])
            return IndexStats(0, 0, 0.0)
        if fingerprint is None:
            fingerprint = functools.partial(recorded_fingerprint, out, self.ctx.cfg.language)

        todo = []
        fps = {}
        for shard in self.shards:
            fp = fingerprint(shard)
            bundle = out.dir / search.BUNDLE_DIR / shard.name / "pagefind-entry.json"
            if old.get(shard.name) != fp or not bundle.is_file():
                todo.append(shard)
                fps[shard.name] = fp  # recorded once its bundle is in place
            else:
                self.recorded[shard.name] = fp
        finished: list[search.Shard] = []

        def done(shard: search.Shard) -> None:
            self.recorded[shard.name] = fps[shard.name]
            finished.append(shard)
            if self.progress:
                self.progress("search", len(finished), len(todo))

        search.index_shards(out.dir, todo, done)
        search.remove_bundles(out.dir, [s.name for s in self.shards])
        return IndexStats(len(self.shards), len(todo), time.perf_counter() - t0)


@dataclass
class Generators:
    """Every generator of one build, in the order the build runs them."""

    items: ItemPages
    listings: Listings
    feeds: Feeds
    archives: Archives
    extras: Extras
    sitemap: Sitemap
    search: Search

    @classmethod
    def create(cls, ctx: BuildContext, writer: SiteWriter, tree: Tree, store: Store, light: bool,
               progress: Progress | None, counts: Counts, stories: StoryIndex, *, site_feeds: bool = True
               ) -> Generators:
        """`tree` has the listings' counts; `counts`, every item's (item pages, sitemap and search)."""
        return cls(ItemPages(ctx, writer, tree, store, light, stories), Listings(ctx, writer, tree),
                   Feeds(ctx, writer, tree, store, site=site_feeds), Archives(ctx, writer, tree), Extras(ctx, writer),
                   Sitemap(ctx, writer, tree, counts.days), Search(ctx, writer, counts, progress))

    @property
    def feeders(self) -> list[Generator]:
        """The generators the pass hands its items to, in this order."""
        return [self.listings, self.feeds, self.sitemap, self.items]
