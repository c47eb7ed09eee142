"""Stories on the site (SPEC §10): each story is listed once, under its earliest visible item; that item's
page lists the others ("also reported by"), and every other member's page links to it.

A story's members come from Store.stories() before the pass. The listings' counts leave the other members
out (`listed_counts`), so pagination stays stable; item pages, the sitemap and search keep every item.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ...store import Counts, ItemKey, StoryMember
from . import urls
from .pages import web

__all__ = ["Related", "StoryIndex", "StoryLinks"]


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


class StoryIndex:
    def __init__(self, stories: dict[str, list[StoryMember]], tz: ZoneInfo) -> None:
        self.tz = tz
        self._members: dict[ItemKey, list[StoryMember]] = {}
        for members in stories.values():
            for m in members:
                self._members[m.key] = members
        self.hidden: set[ItemKey] = {m.key for members in stories.values() for m in members[1:]}
        self._related: dict[ItemKey, Related] = {}

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
        """`counts` without the stories' other members: what the listings show."""
        if not self.hidden:
            return counts
        nodes, days = Counter(counts.nodes), Counter(counts.days)
        total = counts.total
        for members in self._unique_stories():
            for m in members[1:]:
                path = tuple(c for c in (m.category, m.source, m.channel) if c)
                for i in range(1, len(path) + 1):
                    nodes[path[:i]] -= 1
                days[self._local(m).date()] -= 1
                total -= 1
        return Counts(total, +nodes, +days, counts.heads)

    def _unique_stories(self) -> list[list[StoryMember]]:
        seen: dict[int, list[StoryMember]] = {}
        for members in self._members.values():
            seen.setdefault(id(members), members)
        return list(seen.values())

    def _local(self, m: StoryMember) -> datetime:
        return datetime.fromtimestamp(m.published, UTC).astimezone(self.tz)

    def _relate(self, m: StoryMember) -> Related:
        r = self._related.get(m.key)
        if r is None:
            path = f"{urls.item_dir(self._local(m).date())}{urls.item_uid(m.source_key, m.id)}.html"
            r = self._related[m.key] = Related(urls.href(path), m.title, m.source or m.category, web(m.link))
        return r
