"""What a build records about the site it made (Store.save_site_build), so the next one can tell what its
changes touch without reading the archive: the counts of every listing and day, the tag and node
directories, and the search shards' fingerprints. Stored as JSON; small (one entry per listing and day)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from ...store import Counts

if TYPE_CHECKING:
    from .context import Tree

VERSION = 2
# Past this many journaled changes a full pass costs less than following them one by one.
CHANGES_MAX = 5000

Node = tuple[str, ...]


def listing_key(kind: str, key: Any) -> str:
    """One string per listing: 'home', 'node', 'month' or 'tag', then what names it."""
    if kind == "home":
        return "home"
    if kind == "node":
        return "node\t" + "\t".join(key)
    if kind == "month":
        return f"month\t{key[0]:04d}-{key[1]:02d}"
    return f"tag\t{key}"


def parse_listing_key(text: str) -> tuple[str, Any]:
    kind, _, rest = text.partition("\t")
    if kind == "node":
        return kind, tuple(rest.split("\t"))
    if kind == "month":
        y, m = rest.split("-")
        return kind, (int(y), int(m))
    return kind, (rest if kind == "tag" else None)


@dataclass
class SiteState:
    fp: str  # of the templates, static files, config and code the site was made with
    token: str  # also in the output directory's TOKEN file: the directory is the one this record is about
    total: int = 0  # items
    files: int = 0  # files recorded
    listings: dict[str, int] = field(default_factory=dict)  # listing_key -> items listed
    keywords: dict[str, int] = field(default_factory=dict)  # every keyword -> items listed under it
    nodes: dict[str, int] = field(default_factory=dict)  # "\t".join(node) -> items under it
    days: dict[str, int] = field(default_factory=dict)  # ISO local date -> items published that day
    heads: dict[str, int] = field(default_factory=dict)  # "<ISO date>\t<first id character>" -> items (Counts.heads)
    node_dirs: dict[str, str] = field(default_factory=dict)  # "\t".join(node) -> its directory
    tag_dirs: dict[str, str] = field(default_factory=dict)  # tag with a page -> its directory
    shards: dict[str, str] = field(default_factory=dict)  # search shard -> fingerprint of what it indexed
    globs: dict[str, str] = field(default_factory=dict)  # search shard -> the pages it holds (Shard.glob)
    version: int = VERSION

    def set_counts(self, counts: Counts, tree: Tree) -> None:
        """Record every item's counts (`counts`) and the listings' (`tree.counts`, tags)."""
        self.total = counts.total
        self.nodes = {"\t".join(n): k for n, k in counts.nodes.items()}
        self.days = {d.isoformat(): k for d, k in counts.days.items()}
        self.heads = {f"{d.isoformat()}\t{c}": k for (d, c), k in counts.heads.items()}
        self.listings = listing_counts(tree)

    def counts(self) -> Counts:
        """Every item's counts, as recorded."""
        heads: Counter[tuple[date, str]] = Counter()
        for key, k in self.heads.items():
            d, _, c = key.partition("\t")
            heads[(date.fromisoformat(d), c)] = k
        return Counts(self.total, Counter({tuple(n.split("\t")): k for n, k in self.nodes.items()}),
                      Counter({date.fromisoformat(d): k for d, k in self.days.items()}), heads)

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> SiteState | None:
        """The state recorded, or None if it cannot be read (another version): the next build is then full."""
        try:
            data = json.loads(text)
            if data.get("version") != VERSION:
                return None
            return cls(**data)
        except (ValueError, TypeError, AttributeError):
            return None


def listing_counts(tree: Tree) -> dict[str, int]:
    """Items listed per listing, by listing_key (what SiteState.listings records)."""
    counts = {listing_key("home", None): tree.counts.total}
    counts.update((listing_key("node", n), k) for n, k in tree.counts.nodes.items())
    counts.update((listing_key("month", ym), k) for ym, k in tree.counts.months().items())
    counts.update((listing_key("tag", w), k) for w, k in tree.tags.items())
    return counts
