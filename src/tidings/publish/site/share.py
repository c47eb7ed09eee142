"""Item pages made by workers that read their own items: a big full build's readers (docs/site.md).

Past `READ_AT` items, a full build that renders every page splits the channels between its page workers
(`plan`): each opens the store again, reads the build's snapshot (Store.shared_snapshot), streams its own
channels' items with their bodies and makes their pages. The build's process streams every item without its
body for the listings, feeds and sitemap, and gets back each item's excerpt and card as soon as its reader has
read it (`Card`) and each page's record once written. So no body passes through the build's process, and
nothing of an item page is made there.

Flow control: a reader makes its i-th item's card only once the build's process has taken in its i-th item,
plus `SLACK` (`Credits`): results that come back before their item is known to the build's process stay few,
and the build's process waits for cards only when more than `LAG` are missing (having told every reader how
far it is, so none of them waits for it meanwhile).
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ...store import Counts, ItemFilter, SnapshotGone, Store, open_store
from .generators import Generator

if TYPE_CHECKING:
    from . import SiteConfig
    from .context import BuildContext, Entry
    from .pages import Credits, ItemPages, Job, Result
    from .render import Summary
    from .stories import StoryLinks
    from .writer import SiteWriter

READ_AT = 20_000  # items from which a full build's workers read their own items
# Room enough that a process the scheduler puts aside for a while does not stop the others at once (a card is
# ~1.5 KB: a few tens of MB at most).
SLACK = 8192  # items a reader may be ahead of the build's process
REPORT = 512  # items between two reports of the build's process to its readers
LAG = 16_384  # cards the build's process may miss before it waits for them
BATCH = 256  # item pages whose records a reader looks up at once
SEND = 64  # cards and records per message from a reader
EVERY = 1 << 62  # a report that lets a reader read to its end


@dataclass(frozen=True)
class Share:
    """What one reader needs to make its channels' item pages as the build's process would."""

    address: str  # Store.address
    snapshot: str  # Store.export_snapshot of the build's snapshot
    cfg: SiteConfig
    fp: str  # the build's BuildContext.fp: the reader's must be the same
    listed: Counts  # the listings' counts (Tree)
    tags: dict[str, int]  # keywords with a page
    site: str
    lookup: bool  # whether the last build recorded files (else no page has a record to look up)
    sources: tuple[str, ...]  # its channels' source keys
    slack: int = SLACK

    def serve(self, pages: ItemPages, send: Callable[[Any], None], credits: Credits,
              next_message: Callable[[], Any]) -> None:
        """In its worker process (pages._work, which knows no more of readers than this method)."""
        serve(self, pages, send, credits, next_message)


def plan(store: Store, ctx: BuildContext, counts: Counts, listed: Counts, tags: dict[str, int], site: str,
         lookup: bool, workers: int) -> tuple[list[Share], dict[str, int]]:
    """The readers' shares (at most `workers`), channels balanced by their items, and which reader reads each
    source. A channel's sources go to one reader: an item page links its channel's neighbours."""
    channels: dict[tuple[str, ...], list[str]] = {}
    for key, p in store.source_paths().items():
        channels.setdefault(tuple(c for c in (p.category, p.source, p.channel) if c), []).append(key)
    loads = [0] * max(1, min(workers, len(channels)))
    keys: list[list[str]] = [[] for _ in loads]
    for node, sources in sorted(channels.items(), key=lambda kv: (-counts.nodes.get(kv[0], 0), kv[0])):
        k = loads.index(min(loads))
        loads[k] += counts.nodes.get(node, 0)
        keys[k] += sources
    snapshot = store.export_snapshot()
    shares = [Share(store.address, snapshot, ctx.cfg, ctx.fp, listed, tags, site, lookup, tuple(sorted(ks)), SLACK)
              for ks in keys if ks]
    return shares, {key: k for k, share in enumerate(shares) for key in share.sources}


class _Sink:
    """Takes the item pages generators.ItemPages makes (as SiteWriter would), looks up the last build's
    records of `BATCH` of them at once, and renders the ones whose inputs changed."""

    offloading = False

    def __init__(self, share: Share, store: Store, pages: ItemPages, out: list[Any]) -> None:
        self.share, self.store, self.pages, self.out = share, store, pages, out
        self.jobs: list[Job] = []
        self._prefix = os.path.join(pages.writer.prefix, "")

    def fresh(self, path: str, fp: str) -> bool:
        return False  # decided by batch, in flush()

    def item_page(self, path: str, fp: str, item: Any, s: Summary, newer: Summary | None, older: Summary | None,
                  crumbs: list[tuple[str, str]], story: StoryLinks, tags: tuple[tuple[str, str], ...]) -> None:
        from .pages import Job

        self.jobs.append(Job(path, fp, None, item, s, newer, older, crumbs, story, tags))
        if len(self.jobs) >= BATCH:
            self.flush()

    def flush(self) -> None:
        from .pages import Result

        jobs, self.jobs = self.jobs, []
        olds = self.store.site_files(self.share.site, [j.path for j in jobs]) if self.share.lookup and jobs else {}
        for j in jobs:
            old = olds.get(j.path)
            if old is not None and old.fp == j.fp and os.path.isfile(self._prefix + j.path):
                self.out.append(Result(j.path, old.digest, j.fp, False, old.search))
            else:
                r = self.pages.render(j._replace(old=old.digest if old else None))
                self.out.append(r._replace(excerpt=None, card=None))  # (sent with the item's Card already)


def serve(share: Share, pages: ItemPages, send: Callable[[Any], None], credits: Credits,
          next_message: Callable[[], Any]) -> None:
    """A reader's work, in its worker process: open the store in the build's snapshot, say whether that
    worked (`Ready`), and on `GO` make its channels' item pages; then the worker serves jobs as any other."""
    from .pages import GO, Ready

    try:
        store = open_store(share.address)
    except Exception as e:  # noqa: BLE001 - any failure to open: the build renders without readers
        send(Ready(False, f"{type(e).__name__}: {e}"))
        next_message()
        return
    try:
        with store.shared_snapshot(share.snapshot):
            send(Ready(True, ""))
            if next_message() == GO:
                _read(share, store, pages, send, credits)
    except SnapshotGone as e:
        send(Ready(False, str(e)))
        next_message()
    finally:
        store.close()


def _read(share: Share, store: Store, pages: ItemPages, send: Callable[[Any], None], credits: Credits) -> None:
    from . import generators
    from .context import BuildContext, Tree
    from .pages import Card, Reply
    from .stories import StoryIndex
    from .stream import ItemStream

    ctx = BuildContext.create(share.cfg)
    if ctx.fp != share.fp:
        raise RuntimeError("the site's templates, static files or settings changed during the build")
    stories = StoryIndex(store.stories(), ctx.tz)
    tree = Tree(share.listed, share.tags)
    out: list[Card | Result] = []
    sink = _Sink(share, store, pages, out)
    writer = cast("SiteWriter", sink)  # the two methods generators.ItemPages calls
    items = generators.ItemPages(ctx, writer, tree, store, False, stories)
    stream = ItemStream(ctx, store, tree, writer, False, stories, ItemFilter(sources=share.sources))
    n = 0
    try:
        for entry in stream:
            if credits.at + share.slack <= n:
                if out:
                    send(Reply(out, None, True))
                    out.clear()
                credits.wait(n - share.slack + 1)
            if credits.stopped:  # the build failed elsewhere: what is written so far goes back, and no more
                break
            s = entry.summary
            card = pages.card(s)
            out.append(Card(entry.path, s.excerpt, card))
            items.add(entry)
            n += 1
            if len(out) >= SEND:
                send(Reply(out, None, True))
                out.clear()
        else:
            items.generate()
            sink.flush()
    except Exception:  # noqa: BLE001 - back to the builder with the pages written before it, which fails the build
        send(Reply(out, traceback.format_exc()))
        return
    send(Reply(out, None, False))


class Readers(Generator):
    """In the build's process, in place of generators.ItemPages: notes each item whose card is to come back
    from its reader, and reports to the readers how far it is."""

    def __init__(self, writer: SiteWriter, shares: list[Share], owners: dict[str, int]) -> None:
        self.writer, self.shares, self.owners = writer, shares, owners
        self.taken = [0] * len(shares)  # items of each reader's taken in
        self._n = 0

    def add(self, entry: Entry) -> None:
        self.writer.expect(entry.path, entry.summary)
        self.taken[self.owners[entry.item.source_key]] += 1
        self._n += 1
        if self._n % REPORT == 0:
            self.report()
            if self.writer.missing > LAG:
                self.writer.wait_for_cards(LAG // 2)

    def report(self) -> None:
        self.writer.report(self.taken)
        self.writer.poll()

    def generate(self) -> None:
        """Once every item is taken in: let the readers finish."""
        self.writer.report([EVERY] * len(self.taken))
        self.writer.poll()
