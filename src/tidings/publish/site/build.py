"""One site build: count, one newest-first pass over the store feeding the generators, then what summarises it.

Memory stays bounded whatever the number of items: the store is streamed once, and each generator keeps only
its own bounded state (generators.py). docs/site.md describes the incremental rules and the workers.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...store import ItemKey, Store
from . import pages, render, search, urls
from .context import BuildContext, Entry, Progress, Tree
from .generators import Generators
from .manifest import Output
from .stories import StoryIndex
from .writer import SiteWriter

if TYPE_CHECKING:
    from ...store import StoredItem
    from . import SiteConfig, SiteReport


class ItemStream:
    """The pass: published items newest first, each as an `Entry` with its page path and summary.

    A full build reads the bodies as UTF-8 bytes (most are only passed on to a worker, which decodes them);
    a light one (same templates and config as last time: most pages will be skipped) reads none and fetches
    a body only for the pages, excerpts and feeds that are rendered."""

    def __init__(self, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter, light: bool,
                 stories: StoryIndex) -> None:
        self.ctx, self.store, self.tree, self.writer, self.light = ctx, store, tree, writer, light
        self.hidden = stories.hidden
        self._day_dirs: dict[date, str] = {}

    def __iter__(self) -> Iterator[Entry]:
        tz, day_dirs, hidden = self.ctx.tz, self._day_dirs, self.hidden
        for it in self.store.iter_site_items(False if self.light else "utf-8"):
            local = it.published.astimezone(tz)
            day = local.date()
            ddir = day_dirs.get(day)
            if ddir is None:  # strftime once per day, not once per item
                ddir = day_dirs[day] = urls.item_dir(day)
            path = f"{ddir}{urls.item_uid(it.source_key, it.id)}.html"  # = urls.item_path(local, uid)
            node = tuple(it.categories)
            yield Entry(it, path, local, node, self._summary(it, path, local, node),
                        hidden.get(ItemKey(it.source_key, it.id)) if hidden else None)

    def _summary(self, it: StoredItem, path: str, local: Any, node: tuple[str, ...]) -> render.Summary:
        label = " › ".join(node[1:] if len(node) > 1 else node)
        key = f"{path}|{it.hash}|{'/'.join(node)}|{it.updated.timestamp() if it.updated else ''}"
        if self.light:
            raw: str | bytes = ""
            load = partial(self.store.item_html, it.source_key, it.id, render.EXCERPT * 10)
        else:  # it.html: UTF-8 bytes; most excerpts are made by the workers, from the page's body
            raw, load = it.html[: render.EXCERPT * 40], None
        return render.Summary(urls.href(path), it.title.replace(render.ROOT_MARK, ""), it.cover,
                              f"{local:%Y-%m-%d %H:%M}", local.replace(microsecond=0).isoformat(),
                              label.replace(render.ROOT_MARK, ""), self.tree.hrefs[node] if node else "", key,
                              raw=raw, load=load, wait=self.writer.offloading)


def build(store: Any, cfg: SiteConfig, out_dir: Path, progress: Progress | None = None) -> SiteReport:
    from . import SiteReport

    t0 = time.perf_counter()
    ctx = BuildContext.create(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Output(out_dir, ctx.fp)
    writer = SiteWriter(ctx, out)
    complete = False
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            with store.snapshot():
                counts = store.site_counts(ctx.tz, search.SHARD_MAX if cfg.search else None)
                stories = StoryIndex(store.stories(), ctx.tz)
                tags = store.tag_counts(cfg.tag_min_items) if cfg.tag_min_items else {}
                tree = Tree(stories.listed_counts(counts), tags)  # listings show a story once
                gens = Generators.create(ctx, writer, tree, store, out.same_inputs, spool, progress, counts, stories)
                _pass(ItemStream(ctx, store, tree, writer, out.same_inputs, stories), gens, writer, counts.total,
                      progress)
                # Feeds, the category tree and the archives go to the workers (if any) while they finish the
                # last item pages; then the listings' last pages, once every card is back.
                gens.feeds.generate()
                gens.archives.generate()
                gens.extras.generate()
                writer.settle()
                gens.listings.generate()
                writer.stop_workers()
            gens.sitemap.generate()
        gens.search.generate()
        gens.extras.static()
        out.delete_stale()
        stats = gens.search.index()
        complete = True
    except BaseException as e:
        writer.stop_workers(e)
        raise
    finally:
        out.save(complete)
    return SiteReport(written=len(out.written), unchanged=out.unchanged, deleted=len(out.deleted),
                      elapsed=time.perf_counter() - t0, items=counts.total, search_shards=stats.shards,
                      search_indexed=stats.indexed, search_seconds=stats.seconds, written_files=list(out.written),
                      deleted_files=list(out.deleted))


def _pass(stream: ItemStream, gens: Generators, writer: SiteWriter, total: int, progress: Progress | None) -> None:
    """Hand every item to the generators, newest first; then the item pages still waiting for a neighbour."""
    if not stream.light and total > pages.INLINE:
        writer.start_workers()  # every page will be rendered: no need to count INLINE pages first
    feeders = gens.feeders
    done = 0
    for entry in stream:
        for g in feeders:
            g.add(entry)
        done += 1
        if progress and done % 500 == 0:
            progress("pages", done, total)
    gens.items.generate()
    if progress:
        progress("pages", done, total)

