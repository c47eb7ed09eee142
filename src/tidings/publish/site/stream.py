"""The stream of items a build reads: published items newest first, each as an `Entry` (its page path, local
time, channel, card summary and where its story hides it)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING

from ...store import ALL_ITEMS, ItemFilter, ItemKey, Store

if TYPE_CHECKING:
    from ...store import StoredItem
    from . import render
    from .context import BuildContext, Entry, Node, Tree
    from .stories import StoryIndex
    from .writer import SiteWriter


class ItemStream:
    """The pass: published items newest first, each as an `Entry` with its page path and summary.

    A full build reads the bodies as UTF-8 bytes (most are only passed on to a worker, which decodes them);
    a light one (same templates and config as last time: most pages will be skipped) reads none and fetches
    a body only for the pages, excerpts and feeds that are rendered."""

    def __init__(self, ctx: BuildContext, store: Store, tree: Tree, writer: SiteWriter, light: bool,
                 stories: StoryIndex, where: ItemFilter = ALL_ITEMS) -> None:
        from . import feeds, render, urls

        self.ctx, self.store, self.tree, self.writer, self.light = ctx, store, tree, writer, light
        self.stories, self.hidden = stories, stories.hidden
        self.where = where
        self._day_dirs: dict[date, str] = {}
        self._nodes: dict[Node, tuple[str, str, str]] = {}  # node -> (label, key part, node href)
        # (not imported at module level: a build with nothing to do imports neither)
        self._new, self._href, self._mark = render.Summary, urls.href, render.ROOT_MARK
        self._excerpt_chars, self._iso = render.EXCERPT, feeds.iso_seconds

    def __iter__(self) -> Iterator[Entry]:
        from . import urls
        from .context import Entry

        tz, day_dirs, hidden = self.ctx.tz, self._day_dirs, self.hidden
        need = self.stories.need if self.stories.reads_on_demand else None  # (a full build has every story)
        # Once per source, not per item: its node (from its three names) and its page names' tail
        nodes: dict[tuple[str, str, str], Node] = {}
        uid_tails: dict[str, str] = {}  # source key -> urls.item_uid(key, ""), what follows the id
        for it in self.store.iter_site_items(False if self.light else "utf-8", self.where):
            if need is not None and it.story:
                need(it.story)
            local = it.published.astimezone(tz)
            day = local.date()
            ddir = day_dirs.get(day)
            if ddir is None:  # strftime once per day, not once per item
                ddir = day_dirs[day] = urls.item_dir(day)
            tail = uid_tails.get(it.source_key)
            if tail is None:
                tail = uid_tails[it.source_key] = urls.item_uid(it.source_key, "")
            path = f"{ddir}{it.id}{tail}.html"  # = urls.item_path(local, urls.item_uid(it.source_key, it.id))
            names = (it.category, it.source, it.channel)
            node = nodes.get(names)
            if node is None:
                node = nodes[names] = tuple(it.categories)
            yield Entry(it, path, local, node, self._summary(it, path, local, node),
                        hidden.get(ItemKey(it.source_key, it.id)) if hidden else None)

    def _node(self, node: Node) -> tuple[str, str, str]:
        label = " › ".join(node[1:] if len(node) > 1 else node).replace(self._mark, "")
        v = self._nodes[node] = (label, "/".join(node), self.tree.hrefs[node] if node else "")
        return v

    def _summary(self, it: StoredItem, path: str, local: datetime, node: Node) -> render.Summary:
        label, names, node_href = self._nodes.get(node) or self._node(node)
        key = f"{path}|{it.hash}|{it.revision}|{names}|{it.updated.timestamp() if it.updated else ''}"
        if self.light:
            raw: str | bytes = ""
            load = partial(self.store.item_html, it.source_key, it.id, self._excerpt_chars * 10)
        else:  # it.html: UTF-8 bytes; most excerpts are made by the workers, from the page's body
            raw, load = it.html[: self._excerpt_chars * 40], None
        iso = self._iso(local)  # = local.isoformat(timespec="seconds")
        # iso's first 16 characters are f"{local:%Y-%m-%d %H:%M}" with a T, except before year 1000
        time = f"{iso[:10]} {iso[11:16]}" if local.year >= 1000 else f"{local:%Y-%m-%d %H:%M}"
        return self._new(self._href(path), it.title.replace(self._mark, ""), it.cover, time, iso, label, node_href, key,
                         raw=raw, load=load, wait=self.writer.offloading)
