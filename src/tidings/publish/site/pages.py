"""Item pages: rendered and written in the build's process or, in big builds, by worker processes.

An item page depends only on its item, its two channel neighbours and the templates, so once the stream
has found an item's older neighbour its page can be made anywhere. Item pages are most of a full build's
CPU time; past the first `INLINE` renders of a build (a full build, a theme change) the builder hands
them, `CHUNK` at a time, to `worker_count()` processes (`Workers`), each with its own Jinja environment, which
render, hash and write them and send back one `Result` per page — with the item's excerpt and listing
card, so the main process, busy streaming the store and writing listings and feeds, need not make them.
Incremental builds render a handful of pages and never start a worker.

Workers are forked when that is safe (Linux, no other thread in the process) and spawned otherwise; they
ignore SIGINT (the builder stops them after collecting what they finished) and exit when the builder's
end of their pipe closes. They never touch the store: everything a page needs travels in its job.
"""
from __future__ import annotations

import dataclasses
import itertools
import multiprocessing as mp
import operator
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NamedTuple, cast

import jinja2
from markupsafe import Markup

from ...errors import TidingsError
from ...store import StoredItem
from . import feeds, render, shells, urls
from .manifest import Writer

INLINE = 100  # item pages a build renders itself before it starts workers
CHUNK = 32  # item pages per message to a worker
AHEAD = 3  # chunks sent to a worker and not yet answered, at most


def worker_count() -> int:
    """Worker processes for item pages (TIDINGS_SITE_WORKERS, else min(CPUs, 4), none on one CPU); 0 = render
    every page in the build's process. Read when a build starts, so the environment of that moment counts."""
    env = os.environ.get("TIDINGS_SITE_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, 4) if cpus > 1 else 0


def nice_increment() -> int:
    """Niceness increment of worker processes (TIDINGS_SITE_NICE, default 10)."""
    return int(os.environ.get("TIDINGS_SITE_NICE", "10"))


def __getattr__(name: str) -> int:
    # `pages.WORKERS` as bench/site.py prints it: computed when asked, not at import.
    if name == "WORKERS":
        return worker_count()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def web(link: str) -> str:
    """Only http(s) links become hrefs (a feed may carry javascript: or data: links)."""
    return link if link.lower().startswith(("https://", "http://")) else ""


class PageItem(NamedTuple):
    """What the bundled templates show of an item (item.html reads title, author and cover; ItemPages the rest):
    all that travels of it to a worker with them. StoredItem's other fields, its dates above all, cost the
    builder time to pack."""
    title: str
    author: str
    cover: str
    link: str
    html: str | bytes
    category: str
    source: str
    channel: str

    @property
    def categories(self) -> list[str]:
        return [c for c in (self.category, self.source, self.channel) if c]


class Job(NamedTuple):
    path: str
    fp: str  # fingerprint of the page's inputs
    old: str | None  # sha256 of the file the last build wrote there
    item: StoredItem | PageItem  # with its html (a PageItem in a worker, with the bundled templates)
    s: render.Summary
    newer: render.Summary | shells.Link | None  # (a Link in a worker, when only links travel: NEIGHBOUR_LINKS)
    older: render.Summary | shells.Link | None
    crumbs: list[tuple[str, str]]
    story: Any = None  # stories.StoryLinks: plain tuples, so it pickles as they do
    tags: tuple[tuple[str, str], ...] = ()  # (keyword, href of its page or '')


class PageJob(NamedTuple):
    """Any other page: the template and its context, as SiteWriter.page would render it."""
    template: str
    path: str
    fp: str
    old: str | None
    ctx: dict[str, Any]


class FeedJob(NamedTuple):
    """A listing's feeds: feeds.render(kinds, meta, items) to paths, its items' bodies and excerpts loaded
    (generators.Feeds)."""
    kinds: tuple[str, ...]  # of "rss", "atom" and "json_feed"
    paths: tuple[str, ...]
    fp: str
    olds: tuple[str | None, ...]
    meta: feeds.FeedMeta
    items: list[feeds.FeedItem]


class Result(NamedTuple):
    path: str
    digest: str
    fp: str
    written: bool
    search: str = ""  # manifest.search_digest
    excerpt: str | None = None  # item pages: the item's excerpt and, if the job's summary had none,
    card: render.Card | None = None  # its card (its <li> in listings; Summary._card)


class Reply(NamedTuple):
    """A worker's answer to one chunk: the results of the jobs it finished, and its traceback if one failed.
    The results travel as plain tuples (Workers.collect makes them Results again): a NamedTuple pickles through
    copyreg and unpickles through its Python __new__, ~4 and ~3 times the cost."""
    results: list[tuple[Any, ...]]
    error: str | None = None


AnyJob = Job | PageJob | FeedJob


# Jobs travel to workers as plain tuples, which pickle faster than dataclasses and datetimes (docs/site.md).
_ITEM_FIELDS = [f.name for f in dataclasses.fields(StoredItem)]
_ITEM_DATES = [i for i, f in enumerate(dataclasses.fields(StoredItem)) if "datetime" in str(f.type)]
_item_values = operator.attrgetter(*_ITEM_FIELDS)  # (one C call: a third of what reading them one by one costs)
_page_item_values = operator.attrgetter(*PageItem._fields)
_summary_head = operator.attrgetter("href", "title", "cover", "time", "iso", "label", "node_href", "key")


_new_tuple = tuple.__new__


def _send(conn: Connection, obj: Any) -> None:
    """conn.send(obj), pickled by pickle itself: messages are plain data, and multiprocessing's own pickler
    (its reducers for sockets and connections) takes ~15% longer."""
    conn.send_bytes(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def _pack_summary(s: render.Summary | None, raw: bool = True, links: bool = False) -> tuple[Any, ...] | None:
    """Summary(*_pack_summary(s)) in a worker: without `load` (it reads the store or holds the body) and,
    unless `raw`, without the start of the body (the worker has the body); with `links`, only href and title."""
    if s is None:
        return None
    if links:
        return s.href, s.title
    text: str | bytes = ""
    if s._excerpt is None and raw:
        text = s.raw or (s.load() if s.load is not None else "")
    return (*_summary_head(s), text, None, s._excerpt, s._card)


def _unpack_summary(v: tuple[Any, ...] | None) -> render.Summary | shells.Link | None:
    if v is None:
        return None
    return render.Summary(*v) if len(v) > 2 else shells.Link(*v)


_ROOT_MARK_UTF8 = render.ROOT_MARK.encode("utf-8")
NEIGHBOUR_LINKS, NEIGHBOUR_SUMMARIES, NEIGHBOUR_TEXT = "links", "summaries", "text"


def pack(job: AnyJob, neighbours: str = NEIGHBOUR_TEXT, whole_item: bool = True) -> tuple[Any, ...]:
    """`neighbours`: what travels of an item page's neighbours: their links and titles only (all the bundled
    item page shows of them), their summaries, or their summaries with the start of their bodies (their
    excerpts, which only a theme whose item page shows them needs). Without `whole_item`, the item travels
    as a PageItem (all the bundled templates show of it)."""
    if isinstance(job, PageJob):
        return ("p", *job)
    if isinstance(job, FeedJob):
        return ("f", *job)
    v: list[Any] | tuple[Any, ...]
    if whole_item:
        kind, v = "i", list(_item_values(job.item))
        for i in _ITEM_DATES:
            if v[i] is not None:
                v[i] = v[i].timestamp()
    else:
        kind, v = "b", _page_item_values(job.item)
    raw, links = neighbours == NEIGHBOUR_TEXT, neighbours == NEIGHBOUR_LINKS
    return (kind, job.path, job.fp, job.old, v, _pack_summary(job.s, raw=False),
            _pack_summary(cast(render.Summary | None, job.newer), raw, links),
            _pack_summary(cast(render.Summary | None, job.older), raw, links), job.crumbs, job.story, job.tags)


def unpack(t: tuple[Any, ...]) -> AnyJob:
    if t[0] == "p":
        return PageJob(*t[1:])
    if t[0] == "f":
        return FeedJob(*t[1:])
    kind, path, fp, old, v, s, newer, older, crumbs, story, tags = t
    if kind == "b":
        item: StoredItem | PageItem = PageItem(*v)
    else:
        for i in _ITEM_DATES:
            if v[i] is not None:
                v[i] = datetime.fromtimestamp(v[i], UTC)
        item = StoredItem(*v)
    return Job(path, fp, old, item, render.Summary(*s), _unpack_summary(newer), _unpack_summary(older),
               crumbs, story, tags)


class ItemPages:
    """Renders and writes item pages (and the items' cards) with one Jinja environment."""

    def __init__(self, env: jinja2.Environment, site: dict[str, Any], t: dict[str, str], static_v: str,
                 base_url: str, out_dir: str) -> None:
        self.env, self.static_v, self.base_url = env, static_v, base_url
        self.site, self.t = render.Attrs(site), render.Attrs(t)
        self.item_tpl = env.get_template("item.html")
        self.card_tpl = env.get_template("_card.html")
        self._chrome: dict[tuple[str, str], render.Attrs] = {}
        self._root_mark = Markup(render.ROOT_MARK)
        # The bundled templates output every value as it is, escaped: listings get their cards spliced in as bytes
        # (SiteWriter.listing), item pages and cards are rendered once per shape and filled in (shells.py).
        self.bundled = render.bundled(env)
        # (a bundled item page gives Pagefind only its article: the search digest is of that alone)
        self.writer = Writer(out_dir, search=bool(site.get("search", True)), article=self.bundled)
        self.item_shells = shells.Shells(self._render_item_shell) if self.bundled else None
        self.card_shells = shells.Shells(self._render_card_shell) if self.bundled else None

    @classmethod
    def spawned(cls, theme_dir: Path | None, site: dict[str, Any], t: dict[str, str], static_v: str,
                base_url: str, out_dir: str) -> ItemPages:
        return cls(render.environment(theme_dir), site, t, static_v, base_url, out_dir)

    def chrome(self, root: str, feed_base: str) -> render.Attrs:
        """Head links, header and footer: the same on every page at one depth, so rendered once per depth."""
        key = (root, feed_base)
        if key not in self._chrome:
            ctx = {"site": self.site, "t": self.t, "root": root, "feed_base": feed_base, "static_v": self.static_v}
            self._chrome[key] = render.Attrs({part: Markup(self.env.get_template(f"_{part}.html").render(ctx))
                                              for part in ("head", "header", "footer")})
        return self._chrome[key]

    def card(self, s: render.Summary) -> render.Card:
        """The item's <li> in listings, with render.ROOT_MARK where the listing's root goes (SiteWriter.cards
        may have split it at the marks since)."""
        if s._card is None:
            if self.card_shells is not None:  # split at the marks and in UTF-8, as SiteWriter.cards would make it
                card = self.card_shells.fill((), shells.card_values(s), lambda: self._card_html(s).encode("utf-8"))
                s._card = tuple(card.split(_ROOT_MARK_UTF8))
            else:
                s._card = self._card_html(s)
        return s._card

    def _card_html(self, s: render.Summary) -> str:
        return self.card_tpl.render(s=s, t=self.t, site=self.site, root=self._root_mark)

    def _render_card_shell(self, mark: Callable[[int], Any], shape: Hashable) -> str:
        return self._card_html(cast(render.Summary, shells.CardView(*map(mark, range(len(shells.CardView._fields))))))

    def page(self, template: str, path: str, ctx: dict[str, Any]) -> str:
        """Render `template` for the page at `path`, with what every page gets besides `ctx`."""
        root = ctx.pop("root", None) or urls.root_for(path)
        feed_base = ctx.pop("feed_base", "")
        canonical = ctx.pop("canonical", None) or urls.absolute(self.base_url, path)
        return self.env.get_template(template).render(
            site=self.site, t=self.t, root=root, feed_base=feed_base, path=path, static_v=self.static_v,
            canonical=canonical, chrome=self.chrome(root, feed_base), **ctx)

    def render_feeds(self, job: FeedJob) -> list[Result]:
        out = []
        for path, old, data in zip(job.paths, job.olds, feeds.render(job.kinds, job.meta, job.items)):
            digest, found, written = self.writer.put(path, data, old)
            out.append(Result(path, digest, job.fp, written, found))
        return out

    def render(self, job: Job | PageJob) -> Result:
        if isinstance(job, PageJob):
            html = self.page(job.template, job.path, job.ctx)
            digest, found, written = self.writer.put(job.path, html.encode("utf-8"), job.old)
            return Result(job.path, digest, job.fp, written, found)
        s = job.s
        raw = job.item.html
        html = raw if isinstance(raw, str) else raw.decode("utf-8")  # (UTF-8 bytes: see build.py)
        if s._excerpt is None and not s.raw:
            s.raw, s.load = render.excerpt_source(html), None
        body = render.safe_body(html)
        if self.item_shells is not None:
            # (safe_body returns its argument when it changes nothing: then the stored bytes are the body's)
            utf8 = raw if body is html and isinstance(raw, bytes) else body.encode("utf-8")
            data = self._item_filled(job, body, utf8, self.item_shells)
        else:
            data = self._item_html(job, body, Markup(body)).encode("utf-8")
        digest, found, written = self.writer.put(job.path, data, job.old)
        card = None if s._card is not None else self.card(s)
        return Result(job.path, digest, job.fp, written, found, s.excerpt, card)

    def _item_html(self, job: Job, body: str, markup: Markup) -> str:
        """The item page with `markup` as its body."""
        it, s = job.item, job.s
        names = it.categories
        root = urls.root_for(job.path)
        return self.item_tpl.render(
            site=self.site, t=self.t, root=root, feed_base="", path=job.path, static_v=self.static_v,
            canonical=urls.absolute(self.base_url, job.path), chrome=self.chrome(root, ""),
            item=it, s=s, body=markup, crumbs=job.crumbs, page_title=it.title,
            description=s.excerpt or it.title, og_type="article", og_image=it.cover,
            show_cover=bool(it.cover) and it.cover not in body, source=it.source or (names[0] if names else ""),
            newer=job.newer, older=job.older, original=web(it.link),
            story_lead=job.story[0] if job.story else None, story_also=job.story[1] if job.story else (),
            tags=job.tags)

    def _item_filled(self, job: Job, body: str, utf8: bytes, item_shells: shells.Shells) -> bytes:
        """_item_html(job, body, Markup(body)) in UTF-8 (`utf8`: the body's), filled into the shell of its shape."""
        it, s = job.item, job.s
        names = it.categories
        story = job.story
        lead, also = (story[0], story[1]) if story else (None, ())
        newer, older = job.newer, job.older
        # In the order _render_item_shell takes them (shells.ITEM_VALUES, then the lists').
        values = [job.path, urls.absolute(self.base_url, job.path), it.title, s.excerpt or it.title, it.cover,
                  it.source or (names[0] if names else ""), s.iso, s.time, it.author, web(it.link)]
        for pair in job.crumbs:
            values += pair
        for pair in job.tags:
            values += pair
        if lead:
            values += lead
        for r in also:
            values += r
        if newer:
            values += (newer.href, newer.title)
        if older:
            values += (older.href, older.title)
        shape = (urls.root_for(job.path), bool(it.cover) and it.cover not in body, len(job.crumbs), len(job.tags),
                 lead is not None, len(also), newer is not None, older is not None)
        return item_shells.fill(shape, values, lambda: self._item_html(job, body, Markup(body)).encode("utf-8"), utf8)

    def _render_item_shell(self, mark: Callable[[int], Any], shape: Hashable) -> str:
        """item.html for a page of `shape` (see _item_filled) with mark(i) for its value i."""
        root, show_cover, n_crumbs, n_tags, lead, n_also, newer, older = cast("tuple[Any, ...]", shape)
        (path, canonical, title, description, cover, source, iso, time, author,
         original) = map(mark, range(len(shells.ITEM_VALUES)))
        nxt = map(mark, itertools.count(len(shells.ITEM_VALUES))).__next__
        crumbs = [(nxt(), nxt()) for _ in range(n_crumbs)]
        tags = [(nxt(), nxt()) for _ in range(n_tags)]
        story_lead = shells.StoryLink(nxt(), nxt(), nxt(), nxt()) if lead else None
        story_also = [shells.StoryLink(nxt(), nxt(), nxt(), nxt()) for _ in range(n_also)]
        links = [shells.Link(nxt(), nxt()) if present else None for present in (newer, older)]
        return self.item_tpl.render(
            site=self.site, t=self.t, root=root, feed_base="", path=path, static_v=self.static_v,
            canonical=canonical, chrome=self.chrome(root, ""), item=shells.ItemView(title, author, cover),
            s=shells.Times(iso, time), body=mark(shells.BODY), crumbs=crumbs, page_title=title,
            description=description, og_type="article", og_image=cover, show_cover=show_cover, source=source,
            newer=links[0], older=links[1], original=original, story_lead=story_lead, story_also=story_also,
            tags=tags)


def _work(tasks: Connection, results: Connection, pages: ItemPages | tuple[Any, ...], close: list[Connection],
          nice: int) -> None:
    """A worker's loop: a chunk of jobs in, their results out; None or a closed pipe ends it.

    A thread reads the chunks as they come, so the builder's send never waits for this process to finish
    a chunk (while this process may be waiting for the builder to read its results: no deadlock, whatever
    the size of the messages; the builder bounds what is in flight)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # the builder's process feeds every worker: it goes first when they compete for a core
        os.nice(nice)
    except (AttributeError, OSError):  # pragma: no cover - no os.nice
        pass
    for conn in close:  # the builder's ends of the pipes, inherited through fork
        conn.close()
    inbox: queue.SimpleQueue[list[tuple[Any, ...]] | None] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                chunk = tasks.recv()
                inbox.put(chunk)
                if chunk is None:
                    return
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    if not isinstance(pages, ItemPages):
        pages = ItemPages.spawned(*pages)
    while True:
        chunk = inbox.get()
        if chunk is None:
            return
        done: list[Result] = []
        try:
            for packed in chunk:
                job = unpack(packed)
                if isinstance(job, FeedJob):
                    done += pages.render_feeds(job)
                else:
                    done.append(pages.render(job))
            _send(results, Reply(list(map(tuple, done))))
        except BaseException:  # noqa: BLE001 - any failure goes back to the builder, which fails the build
            try:
                _send(results, Reply(list(map(tuple, done)), traceback.format_exc()))
            except OSError:
                pass
            return


def _fork_ok() -> bool:
    return (sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()
            and threading.active_count() == 1)


class WorkerError(TidingsError, RuntimeError):
    """A worker failed or died; `results` holds what came back before (those pages are written)."""

    def __init__(self, message: str, results: list[Result]) -> None:
        super().__init__(message)
        self.results = results


class Workers:
    """`n` processes rendering item pages. `submit()` sends a chunk (waiting first, while every worker has
    AHEAD chunks unanswered) and returns the results that came back meanwhile; `drain()` waits for all."""

    def __init__(self, n: int, pages: ItemPages, spawn_args: tuple[Any, ...]) -> None:
        ctx = mp.get_context("fork") if _fork_ok() else mp.get_context("spawn")
        nice = nice_increment()
        forked = ctx.get_start_method() == "fork"
        # The bundled item page shows its neighbours' links and titles; a theme's, their excerpts if it mentions them.
        self.neighbours = NEIGHBOUR_LINKS
        self.whole_item = not pages.bundled
        if not pages.bundled:
            excerpts = render.mentions(pages.env, "item.html", "excerpt")
            self.neighbours = NEIGHBOUR_TEXT if excerpts else NEIGHBOUR_SUMMARIES
        self.tasks: list[Connection] = []
        self.results: list[Connection] = []
        self.ahead: list[int] = []
        self.procs: list[Any] = []
        try:
            for _ in range(n):
                task_r, task_w = ctx.Pipe(duplex=False)
                res_r, res_w = ctx.Pipe(duplex=False)
                _grow(task_w)
                close = [task_w, res_r, *self.tasks, *self.results] if forked else []
                proc = ctx.Process(target=_work, args=(task_r, res_w, pages if forked else spawn_args, close, nice),
                                   name="tidings-site-pages", daemon=True)
                proc.start()
                task_r.close()
                res_w.close()
                self.tasks.append(task_w)
                self.results.append(res_r)
                self.ahead.append(0)
                self.procs.append(proc)
        except BaseException:
            self.close()
            raise

    def submit(self, chunk: list[AnyJob]) -> list[Result]:
        got = self.collect(block=False)
        while min(self.ahead) >= AHEAD:
            got += self.collect(block=True)
        k = self.ahead.index(min(self.ahead))
        try:
            _send(self.tasks[k], [pack(job, self.neighbours, self.whole_item) for job in chunk])
        except OSError as e:
            raise self._failed(k, got, f"site worker {self.procs[k].pid} is gone ({e})") from e
        self.ahead[k] += 1
        return got

    def collect(self, block: bool) -> list[Result]:
        """Results that have arrived (block: wait for at least one message, if any chunk is out). A failure
        raises WorkerError, carrying in .results what came back before it (those pages are written)."""
        busy = [c for c, n in zip(self.results, self.ahead) if n]
        if not busy:
            return []
        got: list[Result] = []
        # wait() hands back the objects it was given: Connections here.
        for conn in cast("list[Connection]", wait(busy, None if block else 0)):
            k = self.results.index(conn)
            try:
                msg: Reply = conn.recv()
            except (EOFError, OSError):
                self.procs[k].join(1)
                proc = self.procs[k]
                raise self._failed(k, got, f"site worker {proc.pid} died (exit code {proc.exitcode})") from None
            self.ahead[k] -= 1
            got += [_new_tuple(Result, r) for r in msg.results]  # (tuple.__new__: no Python frame a result)
            if msg.error is not None:
                raise self._failed(k, got, f"rendering an item page failed in a site worker:\n{msg.error}")
        return got

    def _failed(self, k: int, got: list[Result], message: str) -> WorkerError:
        self.ahead[k] = 0  # a worker stops at its first error: what was queued for it is not done
        return WorkerError(message, got)

    def drain(self) -> tuple[list[Result], WorkerError | None]:
        """Wait for every chunk out; returns what came back and the first error."""
        got: list[Result] = []
        error: WorkerError | None = None
        while any(self.ahead):
            try:
                got += self.collect(block=True)
            except WorkerError as e:
                got += e.results
                error = error or e
        return got, error

    def close(self) -> None:
        for conn in self.tasks:
            try:
                _send(conn, None)
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in self.results:
            conn.close()
        self.tasks, self.results, self.procs, self.ahead = [], [], [], []


def _grow(conn: Connection) -> None:
    """Let a task pipe hold a few chunks (Linux: 64 KB by default), so sending rarely waits for a worker."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
