"""The one way generators write: `SiteWriter` renders (here, or in worker processes) and records every file
in the manifest (`manifest.Output`)."""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, cast

from markupsafe import Markup

from . import feeds, pages, render, shells, urls
from .context import BuildContext
from .manifest import Output
from .stories import NO_LINKS, StoryLinks

# What differs between the numbered pages of one listing besides their cards: the values a shell of list.html has
# marks for, in this order (SiteWriter.listing); the bundled templates output each of them as it is, escaped.
LISTING_VALUES = ("canonical", "page_title", "page_label", "newer", "older")


@dataclass(frozen=True)
class ListingShape:
    """The shape of a numbered listing page (shells.Shells): the caller's `key` for its listing, its root and
    which neighbours it has. `ctx`, the rest of what list.html gets, is the same for every page of the key, so
    it is not compared: a shell is rendered with the ctx of the page it is first made for."""

    key: Hashable
    root: str
    newer: bool
    older: bool
    ctx: dict[str, Any] = field(compare=False, hash=False)


class SiteWriter:
    """Writes pages, feeds and plain files through the manifest; hands item pages (and, while workers run,
    other pages and feeds) to `pages.Workers` and records what they wrote.

    A page whose fingerprint matches the last build's (`fresh`) is not even rendered. Item pages are
    rendered here until `pages.INLINE` of them were, then by workers; `start_workers()` starts them at once.
    Callbacks given to `on_results` run when results come back (listing pages wait for their items' cards)."""

    def __init__(self, ctx: BuildContext, out: Output, *, workers: bool = True) -> None:
        self.out = out
        self.pages = pages.ItemPages(ctx.env, ctx.site, ctx.t, ctx.static_v, ctx.base_url, str(out.dir))
        self._spawn_args = (ctx.theme, ctx.site, ctx.t, ctx.static_v, ctx.base_url, str(out.dir))
        self._worker_count = pages.worker_count() if workers else 0
        self.workers: pages.Workers | None = None
        self._inline = 0  # item pages rendered in this process
        self._chunk: list[pages.AnyJob] = []  # jobs for the workers, not sent yet
        self._waiting: dict[str, render.Summary] = {}  # path -> summary, for item pages the workers have
        self._listeners: list[Callable[[], None]] = []
        self.listing_shells = shells.Shells(self._render_listing_shell) if self.pages.bundled else None

    # --- what generators call ----------------------------------------------------------------------
    @property
    def offloading(self) -> bool:
        """Whether pages go to workers (so their excerpts and cards come back later)."""
        return self.workers is not None

    def fresh(self, path: str, fp: str) -> bool:
        return self.out.fresh(path, fp)

    def on_results(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def write(self, path: str, data: bytes, fp: str = "") -> None:
        self.out.write(path, data, fp)

    def page(self, template: str, path: str, fp: str | None = None, *, offload: bool = False, **ctx: Any) -> None:
        """Render `template` to `path`, skipping the render when `fp` matches the last build. With
        `offload`, a worker renders and writes it when there are workers."""
        if fp is not None and self.out.fresh(path, fp):
            return
        if offload and self.workers is not None:
            self._queue(pages.PageJob(template, path, fp or "", self.out.old_digest(path), ctx))
            return
        self.out.write(path, self.pages.page(template, path, ctx).encode("utf-8"), fp or "")

    def feeds(self, kinds: tuple[str, ...], paths: tuple[str, ...], fp: str, meta: feeds.FeedMeta,
              items: list[feeds.FeedItem]) -> None:
        """feeds.render(kinds, meta, items) to `paths`; the caller checked `fresh` and loaded the items' bodies."""
        if self.workers is not None:
            self._queue(pages.FeedJob(kinds, paths, fp, tuple(self.out.old_digest(p) for p in paths), meta, items))
        else:
            for path, data in zip(paths, feeds.render(kinds, meta, items)):
                self.out.write(path, data, fp)

    def item_page(self, path: str, fp: str, item: Any, s: render.Summary, newer: render.Summary | None,
                  older: render.Summary | None, crumbs: list[tuple[str, str]], story: StoryLinks = NO_LINKS,
                  tags: tuple[tuple[str, str], ...] = ()) -> None:
        """An item page that is not fresh; its summary gets the excerpt and card the render makes."""
        job = pages.Job(path, fp, self.out.old_digest(path), item, s, newer, older, crumbs, story, tags)
        if self.workers is None and self._inline == pages.INLINE and self._worker_count:
            self.start_workers()
        if self.workers is None:
            self._inline += 1
            self._done(self.pages.render(job), s)
            return
        self._waiting[path] = s
        self._queue(job)

    def listing(self, path: str, fp: str, items: list[render.Summary], shell: Hashable = None, **ctx: Any) -> None:
        """A listing page: list.html with `items`' cards. With the bundled templates the cards are spliced into
        the page as UTF-8 (each card encoded once, not once per listing it is in: a listing page is mostly cards).
        Pages given the same `shell` key must differ in nothing but their path, the values of `LISTING_VALUES`
        and their cards (the numbered pages of one listing): they are filled into shells of list.html."""
        if self.out.fresh(path, fp):
            return
        root = urls.root_for(path)
        if shell is None or self.listing_shells is None:
            self.out.write(path, self._listing_html(path, items, root, ctx), fp)
            return
        newer, older = ctx["newer"], ctx["older"]
        values = [urls.absolute(self.pages.base_url, path), ctx["page_title"], ctx["page_label"], newer or "",
                  older or ""]
        shape = ListingShape(shell, root, newer is not None, older is not None, ctx)
        cards = self._cards_utf8(items, root)
        self.out.write(path, self.listing_shells.fill(
            shape, values, lambda: self._listing_html(path, items, root, ctx, cards), cards), fp)

    def _listing_html(self, path: str, items: list[render.Summary], root: str, ctx: dict[str, Any],
                      cards: bytes | None = None) -> bytes:
        """list.html rendered for the page at `path`, in UTF-8. With the bundled templates the cards (`cards`:
        already joined) are spliced in as bytes where their mark is, if it is there just once."""
        if self.pages.bundled:
            html = self.pages.page("list.html", path, {**ctx, "cards": Markup(render.CARDS_MARK)})
            head, mark, tail = html.partition(render.CARDS_MARK)
            if mark and render.CARDS_MARK not in tail:
                cards = self._cards_utf8(items, root) if cards is None else cards
                return b"".join((head.encode("utf-8"), cards, tail.encode("utf-8")))
        return self.pages.page("list.html", path, {**ctx, "cards": self.cards(items, root)}).encode("utf-8")

    def _render_listing_shell(self, mark: Callable[[int], Any], shape: Hashable) -> str:
        """list.html for a numbered page of `shape` with mark(i) for value i of LISTING_VALUES, mark(BODY) for
        the cards."""
        listing = cast(ListingShape, shape)
        canonical, page_title, page_label, newer, older = map(mark, range(len(LISTING_VALUES)))
        ctx = {**listing.ctx, "root": listing.root, "canonical": canonical, "page_title": page_title,
               "page_label": page_label, "newer": newer if listing.newer else None,
               "older": older if listing.older else None, "cards": mark(shells.BODY)}
        return self.pages.page("list.html", "", ctx)

    def cards(self, items: list[render.Summary], root: str) -> Markup:
        """The listing's <li>s. Each item's card is rendered once per build, with a mark where the root goes,
        and split at the marks once: joining the parts with the root costs a third of replacing the marks."""
        out = []
        for s in items:
            c = s._card if s._card is not None else self.pages.card(s)
            if isinstance(c, str):
                c = s._card = tuple(c.split(render.ROOT_MARK))
            if c and isinstance(c[0], bytes):  # (a page that did not splice, in a build that does)
                c = tuple(p.decode("utf-8") for p in c)
            out.append(root.join(cast("tuple[str, ...]", c)))
        return Markup("".join(out))

    def _cards_utf8(self, items: list[render.Summary], root: str) -> bytes:
        """cards(items, root) in UTF-8, from each card's parts encoded once."""
        mark = root.encode("utf-8")
        try:  # every card split and encoded already (a card in one listing is in four or five)
            # (a card not made yet, or not split and encoded, raises TypeError: the loop below does that)
            return b"".join([mark.join(cast("tuple[bytes, ...]", s._card)) for s in items])
        except TypeError:
            pass
        out = []
        for s in items:
            c = s._card if s._card is not None else self.pages.card(s)
            if isinstance(c, str):
                c = s._card = tuple(p.encode("utf-8") for p in c.split(render.ROOT_MARK))
            if c and isinstance(c[0], str):
                c = s._card = tuple(p.encode("utf-8") for p in c)
            out.append(mark.join(cast("tuple[bytes, ...]", c)))
        return b"".join(out)

    # --- worker processes (pages.py) -----------------------------------------------------------------
    def start_workers(self) -> None:
        if not self._worker_count:
            return
        try:
            self.workers = pages.Workers(self._worker_count, self.pages, self._spawn_args)
        except OSError:  # no processes to be had (limits, sandbox): the pages are rendered here
            self.workers = None

    def settle(self) -> None:
        """Send what is queued and wait for every result."""
        if self.workers is None:
            return
        self._send()
        got, err = self.workers.drain()
        self._results(got)
        if err is not None:
            raise err

    def stop_workers(self, error: BaseException | None = None) -> None:
        """Send what is left, record everything the workers finish (the manifest must list every file they
        wrote) and stop them. After an `error` elsewhere, only record."""
        if self.workers is None:
            return
        err: pages.WorkerError | None = None
        try:
            if error is None:
                try:
                    self._send()
                except pages.WorkerError as e:  # _send() recorded what came back with it
                    err = e
            got, drained = self.workers.drain()
            err = err or drained
            for r in got:
                self._done(r)
        finally:
            self.workers.close()
            self.workers = None
        if error is None:
            if err is not None:
                raise err
            self._notify()

    def _queue(self, job: pages.AnyJob) -> None:
        self._chunk.append(job)
        if len(self._chunk) >= pages.CHUNK:
            self._send()

    def _send(self) -> None:
        chunk, self._chunk = self._chunk, []
        if chunk and self.workers is not None:
            try:
                got = self.workers.submit(chunk)
            except pages.WorkerError as e:
                self._results(e.results)
                raise
            self._results(got)

    def _results(self, results: list[pages.Result]) -> None:
        for r in results:
            self._done(r)
        if results:
            self._notify()

    def _notify(self) -> None:
        for callback in self._listeners:
            callback()

    def _done(self, r: pages.Result, s: render.Summary | None = None) -> None:
        self.out.record(r.path, r.digest, r.fp, r.written, r.search)
        if r.excerpt is None:
            return
        s = s or self._waiting.pop(r.path)
        s._excerpt, s.raw, s.load, s.wait = r.excerpt, "", None, False
        if s._card is None:
            s._card = r.card
