"""Stories on the site (SPEC §10): each story is listed once, under its earliest visible item; that item's
page lists the others ("also reported by"), and every other member's page links to it.

A story's members come from Store.stories() before the pass. The listings' counts leave the other members
out (`listed_counts`), so pagination stays stable; item pages, the sitemap and search keep every item.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ...store import Counts, ItemKey, StoryMember
from . import urls
from .pages import web

__all__ = ["Hidden", "Related", "StoryIndex", "StoryLinks"]


def _lineage(m: StoryMember) -> tuple[tuple[str, ...], ...]:
    path = tuple(c for c in (m.category, m.source, m.channel) if c)
    return ((), *(path[:i] for i in range(1, len(path) + 1)))


class Related(NamedTuple):
    """Another member of an item's story, as its page shows it."""

    href: str  # its page on this site, from the root
    title: str
    source: str
    link: str  # the original article ('' unless http(s))


class StoryLinks(NamedTuple):
    lead: Related | None  # the story's first item, on the page of any other member
    also: tuple[Related, ...]  # the other members, on the first item's page

    def key(self) -> str:
        """What the page's fingerprint needs of it."""
        parts = [self.lead] if self.lead else list(self.also)
        return "\n".join("\t".join(r) for r in parts)


NO_LINKS = StoryLinks(None, ())


class Hidden(NamedTuple):
    """Where a story's member is not listed, because an earlier member of its story is."""

    nodes: frozenset[tuple[str, ...]]  # () = home and the site's feeds; else category nodes (and their feeds)
    month: bool  # its month's archive listing
    # Tag pages list a story under its first item only (as Store.tag_counts counts).


class StoryIndex:
    """Each listing shows a story once, under the earliest of its members that the listing holds: home (and
    the site's feeds) under its first item, a category under its earliest member in that category."""

    def __init__(self, stories: dict[str, list[StoryMember]], tz: ZoneInfo,
                 load: Callable[[list[str]], dict[str, list[StoryMember]]] | None = None) -> None:
        """`stories`: every story of several members; or, with `load` (story ids -> their members), those
        read so far, the others read when `need` asks for them (an incremental build reads few)."""
        self.tz = tz
        self._members: dict[ItemKey, list[StoryMember]] = {}
        self.hidden: dict[ItemKey, Hidden] = {}
        self._load = load
        self._loaded: set[str] = set(stories)
        for members in stories.values():
            self._add(members)
        self._related: dict[ItemKey, Related] = {}

    @property
    def reads_on_demand(self) -> bool:
        return self._load is not None

    def need(self, story: str) -> None:
        """Read a story's members now, if this index reads them on demand."""
        if self._load is not None and story not in self._loaded:
            self._loaded.add(story)
            for members in self._load([story]).values():
                self._add(members)

    def _add(self, members: list[StoryMember]) -> None:
        nodes: set[tuple[str, ...]] = set()
        months: set[tuple[int, int]] = set()
        for m in members:
            self._members[m.key] = members
            lineage = _lineage(m)
            local = self._local(m)
            month = (local.year, local.month)
            if nodes:  # not the first member
                self.hidden[m.key] = Hidden(frozenset(n for n in lineage if n in nodes), month in months)
            nodes.update(lineage)
            months.add(month)

    def __len__(self) -> int:
        return len(self._members)

    def links(self, key: ItemKey) -> StoryLinks:
        members = self._members.get(key)
        if members is None:
            return NO_LINKS
        if members[0].key == key:
            return StoryLinks(None, tuple(self._relate(m) for m in members[1:]))
        return StoryLinks(self._relate(members[0]), ())

    def listed_counts(self, counts: Counts) -> Counts:
        """`counts` without the members each listing leaves out. Every node keeps at least one item (the
        earliest member it holds), so the tree and every item's breadcrumbs stay whole."""
        if not self.hidden:
            return counts
        nodes, days = Counter(counts.nodes), Counter(counts.days)
        total = counts.total
        for key, hidden in self.hidden.items():
            for node in hidden.nodes:
                if node:
                    nodes[node] -= 1
                else:
                    total -= 1
            if hidden.month:
                days[self._local(self._member(key)).date()] -= 1
        return Counts(total, +nodes, +days, counts.heads)

    def _member(self, key: ItemKey) -> StoryMember:
        return next(m for m in self._members[key] if m.key == key)

    def _local(self, m: StoryMember) -> datetime:
        return datetime.fromtimestamp(m.published, UTC).astimezone(self.tz)

    def _relate(self, m: StoryMember) -> Related:
        r = self._related.get(m.key)
        if r is None:
            path = urls.item_path(self._local(m), urls.item_uid(m.source_key, m.id))
            r = self._related[m.key] = Related(urls.href(path), m.title, m.source or m.category, web(m.link))
        return r
