"""The stream of items a build reads: published items newest first, each as an `Entry` (its page path, local
time, channel, card summary and where its story hides it)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

from ...store import ALL_ITEMS, ItemFilter, ItemKey, Store

if TYPE_CHECKING:
    from ...store import StoredItem
    from . import render
    from .context import BuildContext, Entry, Tree
    from .stories import StoryIndex
    from .writer import SiteWriter


class ItemStream:
    """The pass: published items newest first, each as an `Entry` with its page path and summary.

    A full build reads the bodies as UTF-8 bytes (most are only passed on to a worker, which decodes them);
    a light one (same templates and config as last time: most pages will be skipped) reads none and fetches
    a body only for the pages, excerpts and feeds that are rendered."""

    def __init__(self, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter, light: bool,
                 stories: StoryIndex, where: ItemFilter = ALL_ITEMS) -> None:
        self.ctx, self.store, self.tree, self.writer, self.light = ctx, store, tree, writer, light
        self.stories, self.hidden = stories, stories.hidden
        self.where = where
        self._day_dirs: dict[date, str] = {}

    def __iter__(self) -> Iterator[Entry]:
        from . import urls
        from .context import Entry

        tz, day_dirs, hidden = self.ctx.tz, self._day_dirs, self.hidden
        need = self.stories.need if self.stories.reads_on_demand else None  # (a full build has every story)
        for it in self.store.iter_site_items(False if self.light else "utf-8", self.where):
            if need is not None and it.story:
                need(it.story)
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
        from . import render, urls

        label = " › ".join(node[1:] if len(node) > 1 else node)
        key = f"{path}|{it.hash}|{it.revision}|{'/'.join(node)}|{it.updated.timestamp() if it.updated else ''}"
        if self.light:
            raw: str | bytes = ""
            load = partial(self.store.item_html, it.source_key, it.id, render.EXCERPT * 10)
        else:  # it.html: UTF-8 bytes; most excerpts are made by the workers, from the page's body
            raw, load = it.html[: render.EXCERPT * 40], None
        return render.Summary(urls.href(path), it.title.replace(render.ROOT_MARK, ""), it.cover,
                              f"{local:%Y-%m-%d %H:%M}", local.replace(microsecond=0).isoformat(),
                              label.replace(render.ROOT_MARK, ""), self.tree.hrefs[node] if node else "", key,
                              raw=raw, load=load, wait=self.writer.offloading)
