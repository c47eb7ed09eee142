"""One site build. First, without importing the renderer: is there anything to do? The store's change journal
(Store.site_changes) says what changed since this site's last build; with nothing changed and the same
templates, config and code, the build stops there. With a few changes an incremental build makes only what
they touch (delta.py); otherwise a full build makes one newest-first pass over the store, feeding the
generators (generators.py), and pages found unchanged by their fingerprint are skipped.

Memory stays bounded whatever the number of items: the store is streamed once, and each generator keeps only
its own bounded state. docs/site.md describes the incremental rules and the workers.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ...store import Counts, Store
from . import inputs
from .manifest import BUILDING, TOKEN, atomic_write
from .state import CHANGES_MAX, SiteState
from .stream import ItemStream

if TYPE_CHECKING:
    from . import SiteConfig, SiteReport
    from .context import BuildContext, Progress, Tree
    from .generators import Generators
    from .writer import SiteWriter

def site_key(out_dir: Path) -> str:
    """The name a site's records go under in the store: its output directory's absolute path."""
    return str(out_dir.resolve())


def build(store: Store, cfg: SiteConfig, out_dir: Path, progress: Progress | None = None, *,
          full: bool = False) -> SiteReport:
    from . import SiteReport

    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    site = site_key(out_dir)
    fp = inputs.fingerprint(cfg)
    last = store.site_build(site)
    state = SiteState.loads(last.state) if last else None
    if full or last is None or state is None or state.fp != fp or _token(out_dir) != state.token \
            or (out_dir / BUILDING).exists():
        return _full(store, cfg, out_dir, site, state, progress, t0)
    changes = store.site_changes(last.position, CHANGES_MAX)
    if changes == []:
        return SiteReport(unchanged=state.files, items=state.total, elapsed=time.perf_counter() - t0,
                          search_shards=len(state.shards))
    if changes is not None and all(c.id is not None for c in changes):  # (a source renamed or switched off: full)
        from .context import BuildContext
        from .delta import build_delta

        report = build_delta(store, BuildContext.create(cfg), out_dir, site, state, last.position, t0)
        if report is not None:
            return report
    return _full(store, cfg, out_dir, site, state, progress, t0)


def _token(out_dir: Path) -> str:
    try:
        return (out_dir / TOKEN).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _full(store: Store, cfg: SiteConfig, out_dir: Path, site: str, state: SiteState | None,
          progress: Progress | None, t0: float) -> SiteReport:
    """Every page, in one newest-first pass over the store."""
    from . import SiteReport, search
    from .context import BuildContext, Tree
    from .generators import Generators
    from .manifest import Output
    from .stories import StoryIndex
    from .writer import SiteWriter

    ctx = BuildContext.create(cfg)
    out = Output(out_dir, store, site, complete_record=True)
    light = state is not None and state.fp == ctx.fp and _token(out_dir) == state.token
    writer = SiteWriter(ctx, out)
    complete = False
    try:
        with store.snapshot():
            mark = store.site_journal_mark()
            counts = store.site_counts(ctx.tz, search.SHARD_MAX if cfg.search else None)
            stories = StoryIndex(store.stories(), ctx.tz)
            keywords = store.tag_counts(1) if cfg.tag_min_items else {}
            tags = {w: n for w, n in keywords.items() if n >= cfg.tag_min_items}
            tree = Tree(stories.listed_counts(counts), tags)  # listings show a story once
            gens = Generators.create(ctx, writer, tree, store, light, progress, counts, stories)
            _pass(ItemStream(ctx, store, tree, writer, light, stories), gens, writer, counts.total, progress)
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
        out.flush()
        stats = gens.search.index(state.shards if state else {})
        complete = True
    except BaseException as e:
        writer.stop_workers(e)
        raise
    finally:
        out.save(complete)
    _record(store, site, mark, out_dir, _state_of(ctx, tree, counts, keywords, gens, len(out.made), state))
    return SiteReport(written=len(out.written), unchanged=out.unchanged, deleted=len(out.deleted),
                      elapsed=time.perf_counter() - t0, items=counts.total, search_shards=stats.shards,
                      search_indexed=stats.indexed, search_seconds=stats.seconds, written_files=list(out.written),
                      deleted_files=list(out.deleted))


def _state_of(ctx: BuildContext, tree: Tree, counts: Counts, keywords: dict[str, int], gens: Generators,
              files: int, old: SiteState | None) -> SiteState:
    state = SiteState(fp=ctx.fp, token=old.token if old else secrets.token_hex(16), files=files,
                      keywords=dict(keywords), node_dirs={"\t".join(n): d for n, d in tree.segs.items()},
                      tag_dirs=dict(tree.tag_segs), shards=gens.search.recorded,
                      globs={s.name: s.glob for s in gens.search.shards})
    state.set_counts(counts, tree)
    return state


def _record(store: Store, site: str, mark: str, out_dir: Path, state: SiteState) -> None:
    """The token first: a record whose token the directory lacks only costs a full build."""
    if _token(out_dir) != state.token:
        atomic_write(out_dir / TOKEN, state.token.encode("ascii"))
    store.save_site_build(site, mark, state.dumps())


def _pass(stream: ItemStream, gens: Generators, writer: SiteWriter, total: int, progress: Progress | None) -> None:
    """Hand every item to the generators, newest first; then the item pages still waiting for a neighbour."""
    from . import pages

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

