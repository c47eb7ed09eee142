"""One site build: a single newest-first pass over the store, then the pages that summarise it.

Memory stays bounded whatever the number of items: the pass holds one pending item per channel (its
page waits for its older neighbour), at most two pages of summaries per open listing, and the first
`feed_items` items of each feed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from markupsafe import Markup

from . import feeds, lists, pages, queries, render, search, urls
from .manifest import Output
from .pages import web as _web


def _h(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class Builder:
    def __init__(self, store, cfg, out_dir: Path, progress=None):
        from . import SiteReport

        self.t0 = time.perf_counter()
        self.store, self.cfg, self.progress = store, cfg, progress
        self.report = SiteReport()
        self.tz = ZoneInfo(cfg.timezone)
        self.t = render.strings(cfg.language)
        self.base_url = cfg.url.rstrip("/") + "/"
        theme = Path(cfg.theme_dir) if cfg.theme_dir else None
        self.env = render.environment(theme)
        config = json.dumps({k: str(v) for k, v in dataclasses.asdict(cfg).items()}, sort_keys=True)
        self.fp = render.fingerprint(self.env, theme, config)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out = Output(out_dir, self.fp)
        # Same templates and config as last time: most pages will be skipped, so stream the items without
        # their HTML and fetch it only for the pages that are rendered. Otherwise stream everything.
        self.light = bool(self.out.old_files) and self.out.old_fingerprint == self.fp
        self.static = render.static_files(theme)
        if not cfg.search:
            self.static.pop("search.js", None)
        self.static_v = _h(*(p.read_bytes().hex() for p in self.static.values()))[:10]
        self.site = {"title": cfg.title, "url": self.base_url, "language": cfg.language,
                     "description": cfg.description, "search": cfg.search}
        self.theme = theme
        self.pages = pages.ItemPages(self.env, self.site, self.t, self.static_v, self.base_url, str(out_dir))
        self.workers: pages.Workers | None = None  # started once a build has rendered pages.INLINE item pages
        self.inline = 0  # item pages rendered in this process
        self.chunk: list[pages.Job] = []  # item pages for the workers, not sent yet
        self.waiting: dict[str, render.Summary] = {}  # path -> summary, for item pages the workers have
        self.deferred: list[list] = []  # listing pages waiting for cards from the workers
        self.flushing = False
        self._crumbs: dict[tuple, list] = {}

    # --- rendering ------------------------------------------------------------------------------
    def page(self, template: str, path: str, fp: str | None = None, *, offload: bool = False, **ctx) -> None:
        """Render `template` to `path`, skipping the render when `fp` matches the last build. With
        `offload`, a worker renders and writes it when there are workers."""
        if fp is not None and self.out.fresh(path, fp):
            return
        if offload and self.workers is not None:
            self.queue(pages.PageJob(template, path, fp or "", self.out.old_digest(path), ctx))
            return
        self.out.write(path, self.pages.page(template, path, ctx).encode("utf-8"), fp or "")

    def cards(self, items: list[render.Summary], root: str) -> Markup:
        """The listing's <li>s. Each item's card is rendered once per build, with a mark where the root goes."""
        card = self.pages.card
        return Markup("".join([s._card if s._card is not None else card(s) for s in items])
                      .replace(render.ROOT_MARK, root))

    def summary(self, it, path: str, local) -> render.Summary:
        names = tuple(it.categories)
        label = " › ".join(names[1:] if len(names) > 1 else names)
        node_href = self.node_hrefs[names] if names else ""
        key = f"{path}|{it.hash}|{'/'.join(names)}|{it.updated.timestamp() if it.updated else ''}"
        s = render.Summary(urls.href(path), it.title.replace(render.ROOT_MARK, ""), it.cover,
                           f"{local:%Y-%m-%d %H:%M}", local.replace(microsecond=0).isoformat(),
                           label.replace(render.ROOT_MARK, ""), node_href, key)
        if self.light:
            db, src, iid = self.store.db, it.source_key, it.id
            s.load = lambda: queries.item_html(db, src, iid, render.EXCERPT * 10)
        else:  # it.html: UTF-8 bytes; most excerpts are made by the workers, from the page's body
            s.raw = it.html[: render.EXCERPT * 40]
        s.wait = self.workers is not None
        return s

    def crumbs(self, names: tuple[str, ...]) -> list[tuple[str, str]]:
        c = self._crumbs.get(names)
        if c is None:
            c = self._crumbs[names] = [(names[i - 1], self.node_hrefs[names[:i]]) for i in range(1, len(names) + 1)]
        return c

    def item_page(self, it, path: str, s: render.Summary, newer, older) -> None:
        fp = _h(self.fp, s.key, newer.key if newer else "", older.key if older else "")
        if self.out.fresh(path, fp):
            s.wait = False
            return
        if self.light and not it.html:
            it.html = queries.item_html(self.store.db, it.source_key, it.id)
        job = pages.Job(path, fp, self.out.old_digest(path), it, s, newer, older, self.crumbs(tuple(it.categories)))
        if self.workers is None and self.inline == pages.INLINE and pages.WORKERS:
            self.start_workers()
        if self.workers is None:
            self.inline += 1
            self.done(self.pages.render(job), s)
            return
        self.waiting[path] = s
        self.queue(job)

    def queue(self, job) -> None:
        self.chunk.append(job)
        if len(self.chunk) >= pages.CHUNK:
            self.send()

    # --- worker processes for item pages (pages.py) ----------------------------------------------
    def start_workers(self) -> None:
        spawn_args = (self.theme, self.site, self.t, self.static_v, self.base_url, str(self.out.dir))
        try:
            self.workers = pages.Workers(pages.WORKERS, self.pages, spawn_args)
        except OSError:  # no processes to be had (limits, sandbox): the pages are rendered here, as before
            self.workers = None

    def send(self) -> None:
        chunk, self.chunk = self.chunk, []
        if chunk:
            try:
                got = self.workers.submit(chunk)
            except pages.WorkerError as e:
                self.results(e.results)
                raise
            self.results(got)

    def results(self, results: list[pages.Result]) -> None:
        for r in results:
            self.done(r)
        if results and self.deferred and not self.flushing:
            self.flush_deferred()

    def done(self, r: pages.Result, s: render.Summary | None = None) -> None:
        self.out.record(r.path, r.digest, r.fp, r.written)
        if r.excerpt is None:
            return
        s = s or self.waiting.pop(r.path)
        s._excerpt, s.raw, s.load, s.wait = r.excerpt, "", None, False
        if s._card is None:
            s._card = r.card

    def flush_deferred(self) -> None:
        """Render the listing pages whose items' cards have all come back. Rendering them sends jobs, which
        brings results back, which may complete more pages: hence the loop (and no recursion)."""
        self.flushing = True
        try:
            while self.deferred:
                ready, keep = [], []
                for d in self.deferred:
                    items, i = d[2], d[4]
                    while i < len(items) and not items[i].wait:
                        i += 1
                    d[4] = i
                    (ready if i == len(items) else keep).append(d)
                self.deferred = keep
                if not ready:
                    break
                for d in ready:
                    self.listing_page(d[0], d[1], d[2], **d[3])
        finally:
            self.flushing = False

    def settle(self) -> None:
        """Send what is queued and wait for every result (deferred listing pages then go out)."""
        if self.workers is None:
            return
        self.send()
        got, err = self.workers.drain()
        self.results(got)
        if err is not None:
            raise err

    def stop_workers(self, error: BaseException | None = None) -> None:
        """Send what is left, record everything the workers finish (the manifest must list every file they
        wrote) and stop them. After an `error` elsewhere, only record."""
        if self.workers is None:
            return
        err = None
        try:
            if error is None:
                try:
                    self.send()
                except pages.WorkerError as e:  # send() recorded what came back with it
                    err = e
            got, drained = self.workers.drain()
            err = err or drained
            for r in got:
                self.done(r)
        finally:
            self.workers.close()
            self.workers = None
        if error is None:
            if err is not None:
                raise err
            if self.deferred:
                self.flush_deferred()

    def listing_page(self, kind: str, page: lists.Page, items: list, **extra) -> None:
        if self.workers is not None and any(s.wait for s in items):
            self.deferred.append([kind, page, items, extra, 0])
            return
        keys = "\n".join(s.key for s in items)
        first = page.number == 0
        if first:
            extra_key = json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)
        else:
            extra = {k: v for k, v in extra.items() if k in ("heading", "crumbs", "feed_base")}
            extra_key = json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)
        fp = _h(self.fp, kind, page.path, page.newer or "", page.older or "", extra_key, keys)
        if self.out.fresh(page.path, fp):
            return
        heading = extra.get("heading") or ""
        page_title = heading
        if page.number:
            label = self.t["page"].format(n=page.number)
            page_title = f"{heading} · {label}" if heading else label
        # Rendered here, not by a worker: its context is ~30 finished cards (~20 KB), which cost more to pickle
        # and send than to render (22 alternating builds: 4% faster, 17 of 22 pairs).
        self.page("list.html", page.path, fp, kind=kind, cards=self.cards(items, urls.root_for(page.path)),
                  pager=page, first=first,
                  page_title=page_title, description=extra.pop("description", "") or self.cfg.description or self.cfg.title,
                  newer=urls.href(page.newer) if page.newer is not None else None,
                  older=urls.href(page.older) if page.older is not None else None,
                  page_label=self.t["page"].format(n=page.number) if page.number else "", **extra)

    # --- the pass over the store -----------------------------------------------------------------
    def run(self):
        cfg, out = self.cfg, self.out
        complete = False
        try:
            with queries.snapshot(self.store.db):
                counts = queries.count(self.store.db, self.tz, search.SHARD_MAX if cfg.search else None)
                self.counts = counts
                self.segs = urls.node_segments(counts.nodes)
                self.node_hrefs = {node: urls.href(path) for node, path in self.segs.items()}
                listings = self.stream(counts)
                # Feeds, the category tree and the archives go to the workers (if any) while they finish
                # the last item pages; then the listings' last pages, once every card is back.
                self.summary_pages(counts)
                self.settle()
                for listing in listings:
                    listing.close()
                self.stop_workers()
            self.sitemap(self.by_year)
            shards = search.plan(counts.days, heads=counts.heads) if cfg.search else []
            if cfg.search:
                self.search_page(shards)
            for name, path in self.static.items():
                out.write(f"static/{name}", path.read_bytes())
            out.delete_stale()
            if cfg.search:
                self.index(shards)
            else:
                search.remove_bundles(out.dir, [])
            complete = True
        except BaseException as e:
            self.stop_workers(e)
            raise
        finally:
            out.save(complete)
        r = self.report
        r.items = counts.total
        r.written, r.unchanged, r.deleted = len(out.written), out.unchanged, len(out.deleted)
        r.written_files, r.deleted_files = list(out.written), list(out.deleted)
        r.elapsed = time.perf_counter() - self.t0
        return r

    def stream(self, counts: queries.Counts) -> None:
        cfg, per = self.cfg, self.cfg.per_page
        home = lists.Listing("", counts.total, per, lambda p, b: self.listing_page(
            "home", p, b, children=self.children(()) if p.number == 0 else [], feed_base=""))
        nodes: dict[tuple, lists.Listing] = {}
        months: dict[tuple[int, int], lists.Listing] = {}
        month_counts = counts.months()
        feed_lists: dict[tuple, list] = {(): []}
        pending: dict[tuple, tuple] = {}  # channel -> (item, path, summary, newer summary)
        self.sitemap_items = tempfile.TemporaryFile("w+", encoding="utf-8")
        day_dirs: dict = {}
        done = 0
        if not self.light and counts.total > pages.INLINE and pages.WORKERS:
            self.start_workers()  # every page will be rendered: no need to count INLINE pages first
        # A full build reads the bodies as UTF-8 bytes: most are only passed on to a worker, which decodes them.
        for it in queries.iter_items(self.store.db, html=False if self.light else "utf-8"):
            local = it.published.astimezone(self.tz)
            day = local.date()
            ddir = day_dirs.get(day)
            if ddir is None:  # strftime once per day, not once per item
                ddir = day_dirs[day] = urls.item_dir(day)
            path = f"{ddir}{urls.item_uid(it.source_key, it.id)}.html"  # = urls.item_path(local, uid)
            s = self.summary(it, path, local)
            names = tuple(it.categories)
            home.add(s)
            for i in range(1, len(names) + 1):
                node = names[:i]
                if node not in nodes:
                    nodes[node] = self.node_listing(node, counts.nodes[node])
                nodes[node].add(s)
            ym = (local.year, local.month)
            if ym not in months:
                months[ym] = self.month_listing(ym, month_counts[ym])
            months[ym].add(s)
            fi = None
            for node in [()] + [names[:i] for i in range(1, len(names) + 1)]:
                lst = feed_lists.setdefault(node, [])
                if len(lst) < cfg.feed_items:
                    fi = fi or self.feed_item(it, path, s)
                    lst.append(fi)
            self.sitemap_items.write(feeds.url_entry(urls.absolute(self.base_url, path), it.updated or it.published))
            prev = pending.get(names)
            if prev is not None:
                self.item_page(prev[0], prev[1], prev[2], prev[3], s)
            pending[names] = (it, path, s, prev[2] if prev else None)
            done += 1
            if self.progress and done % 500 == 0:
                self.progress("pages", done, counts.total)
        for it, path, s, newer in pending.values():
            self.item_page(it, path, s, newer, None)
        self.feed_lists = feed_lists
        if self.progress:
            self.progress("pages", done, counts.total)
        return [home, *nodes.values(), *months.values()]  # closed once the workers' cards are back (run)

    def children(self, node: tuple) -> list[dict]:
        kids = sorted(n for n in self.counts.nodes if len(n) == len(node) + 1 and n[: len(node)] == node)
        return [{"name": k[-1], "href": self.node_hrefs[k], "count": self.counts.nodes[k]} for k in kids]

    def node_listing(self, node: tuple, n: int) -> lists.Listing:
        base = self.segs[node]
        ctx = {"heading": node[-1], "crumbs": self.crumbs(node), "feed_base": urls.href(base),
               "description": f"{' › '.join(node)} - {self.cfg.title}"}
        return lists.Listing(base, n, self.cfg.per_page, lambda p, b: self.listing_page(
            "node", p, b, children=self.children(node) if p.number == 0 else [], count=n, **ctx))

    def month_listing(self, ym: tuple[int, int], n: int) -> lists.Listing:
        y, m = ym
        ctx = {"heading": f"{y}-{m:02d}", "crumbs": [(self.t["archives"], "archives/"), (str(y), f"archives/{y}/")]}
        return lists.Listing(f"archives/{y}/{m:02d}/", n, self.cfg.per_page,
                             lambda p, b: self.listing_page("month", p, b, count=n, **ctx))

    def feed_item(self, it, path: str, s: render.Summary) -> feeds.FeedItem:
        """Body and summary are filled in only if a feed that lists the item is rendered (load_feed)."""
        html = (it.html.decode("utf-8") if isinstance(it.html, bytes) else it.html) or None
        return feeds.FeedItem(urls.absolute(self.base_url, path), _web(it.link), it.title, html, s,
                              it.published, it.updated, it.author, list(it.categories), it.cover, s.key,
                              (it.source_key, it.id))

    def load_feed(self, items: list[feeds.FeedItem]) -> None:
        for i in items:
            if i.html is None:
                i.html = queries.item_html(self.store.db, *i.src)
            if not isinstance(i.summary, str):
                i.summary = i.summary.excerpt
            if not getattr(i, "safe", False):
                i.html, i.safe = render.safe_body(i.html), True

    # --- pages made from the counts ---------------------------------------------------------------
    def summary_pages(self, counts: queries.Counts) -> None:
        cfg, t = self.cfg, self.t
        for node, items in self.feed_lists.items():
            base = self.segs[node] if node else ""
            title = f"{' › '.join(node)} - {cfg.title}" if node else cfg.title
            meta = feeds.FeedMeta(title, cfg.description, urls.absolute(self.base_url, base + "index.html"),
                                  urls.absolute(self.base_url, base + "index.html"), cfg.language, t["original"])
            fp = _h(self.fp, "feed", base, *(i.key for i in items))
            for name, kind in (("rss.xml", "rss"), ("atom.xml", "atom"), ("feed.json", "json_feed")):
                if not self.out.fresh(base + name, fp):
                    self.load_feed(items)
                    if self.workers is not None:
                        self.queue(pages.FeedJob(kind, base + name, fp, self.out.old_digest(base + name), meta,
                                                 items))
                    else:
                        self.out.write(base + name, getattr(feeds, kind)(meta, items), fp)
        # Category tree and date archives.
        self.page("categories.html", "categories/index.html", None, offload=True, page_title=t["categories"],
                  description=f"{t['categories']} - {cfg.title}", tree=self.tree(()), total=counts.total)
        months, years = counts.months(), counts.years()
        by_year = [{"year": y, "count": years[y], "href": f"archives/{y}/",
                    "months": [{"month": m, "count": months[(y, m)], "href": f"archives/{y}/{m:02d}/"}
                               for (yy, m) in sorted(months, reverse=True) if yy == y]}
                   for y in sorted(years, reverse=True)]
        self.page("archives.html", "archives/index.html", None, offload=True, page_title=t["archives"],
                  description=f"{t['archives']} - {cfg.title}", years=by_year, crumbs=[])
        for y in by_year:
            self.page("archives.html", f"archives/{y['year']}/index.html", None, offload=True,
                      page_title=str(y["year"]),
                      description=f"{y['year']} - {cfg.title}", years=[y], crumbs=[(t["archives"], "archives/")])
        # Served for missing URLs at any depth: links from the site's base path, not relative.
        self.page("404.html", "404.html", None, page_title=t["not_found"], description=cfg.title,
                  root=urlsplit(self.base_url).path or "/")
        self.out.write("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {self.base_url}sitemap.xml\n".encode())
        self.by_year = by_year  # for the sitemap, written once the workers are done (run)

    def tree(self, node: tuple) -> list[dict]:
        return [{**c, "children": self.tree(node + (c["name"],))} for c in self.children(node)]

    def sitemap(self, by_year: list[dict]) -> None:
        pages = ["index.html", "categories/index.html", "archives/index.html"]
        pages += [self.segs[n] + "index.html" for n in sorted(self.counts.nodes)]
        for y in by_year:
            pages.append(y["href"] + "index.html")
            pages += [m["href"] + "index.html" for m in y["months"]]
        entries = [feeds.url_entry(urls.absolute(self.base_url, p)) for p in pages]
        self.sitemap_items.seek(0)
        chunks: list[list[str]] = [entries]
        for line in self.sitemap_items:
            if len(chunks[-1]) >= feeds.SITEMAP_MAX:
                chunks.append([])
            chunks[-1].append(line)
        self.sitemap_items.close()
        if len(chunks) == 1:
            self.out.write("sitemap.xml", feeds.urlset(chunks[0]))
            return
        locs = []
        for k, chunk in enumerate(chunks, 1):
            self.out.write(f"sitemap-{k}.xml", feeds.urlset(chunk))
            locs.append(urls.absolute(self.base_url, f"sitemap-{k}.xml"))
        self.out.write("sitemap.xml", feeds.sitemap_index(locs))

    # --- search ---------------------------------------------------------------------------------
    def search_page(self, shards: list[search.Shard]) -> None:
        bundles = [f"{search.BUNDLE_DIR}/{s.name}/" for s in shards]
        self.page("search.html", "search/index.html", None, page_title=self.t["search"],
                  description=f"{self.t['search']} - {self.cfg.title}", bundles=bundles)

    def index(self, shards: list[search.Shard]) -> None:
        t0 = time.perf_counter()
        out, r = self.out, self.report
        todo = []
        by_dir = search.pages_by_dir(out.files)
        for shard in shards:
            fp = search.shard_fingerprint(shard, out.files, self.cfg.language, by_dir)
            out.shards[shard.name] = fp
            bundle = out.dir / search.BUNDLE_DIR / shard.name / "pagefind-entry.json"
            if out.old_shards.get(shard.name) != fp or not bundle.is_file():
                todo.append(shard)
        fps = {shard.name: out.shards.pop(shard.name) for shard in todo}  # recorded once its bundle is in place
        finished = []

        def done(shard: search.Shard) -> None:
            out.shards[shard.name] = fps[shard.name]
            finished.append(shard)
            if self.progress:
                self.progress("search", len(finished), len(todo))

        search.index_shards(out.dir, todo, done)
        search.remove_bundles(out.dir, [s.name for s in shards])
        r.search_shards, r.search_indexed = len(shards), len(todo)
        r.search_seconds = time.perf_counter() - t0
