"""A run: every due source refreshed (jobs.refresh_source, many at once), retention, then publishing.

The per-source work — fetch → parse → clean → filter → store — is jobs.py's; this module decides which
sources are due, runs their refreshes concurrently within the fetch limits, and then builds the Hexo posts
and the built-in site.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

from .errors import LockBusy
from .model import FetchResult, OutcomeStatus, Source
from .schedule import is_due
from .store import Store, is_url, open_store

if TYPE_CHECKING:
    from .config import Config
    from .jobs import Cleaner, SourceOutcome, ingest
    from .publish.hexo import HexoReport
    from .publish.site import SiteReport

__all__ = ["Cleaner", "Progress", "RunLock", "RunReport", "SourceOutcome", "apply_filter_changes", "build",
           "build_builtin_site", "fetch", "ingest", "run"]
# Defined in jobs.py, imported from there on first use (bench/ and tests ask pipeline for them), so that
# `tidings build` never loads the fetch, parse and clean stack (tests/test_startup.py).
_FROM_JOBS = frozenset({"Cleaner", "SourceOutcome", "ingest"})


def __getattr__(name: str) -> object:
    if name in _FROM_JOBS:
        from . import jobs

        return getattr(jobs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

Progress = Callable[..., None]  # progress(event, **details); events: start, source, step
T = TypeVar("T")


def _quiet(event: str, **_: object) -> None:
    pass


@dataclass(slots=True)
class RunReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    hexo: HexoReport | None = None
    site: SiteReport | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status in (OutcomeStatus.FAILED, OutcomeStatus.BACKOFF)]

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def changed(self) -> int:
        return sum(o.changed for o in self.outcomes)

    @property
    def filtered(self) -> int:
        return sum(o.filtered for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0


class RunLock:
    """One tidings process per store at a time: a second one is refused with a clear message. A SQLite
    store's lock is a file beside it; a PostgreSQL store's is a session advisory lock on its database."""

    def __init__(self, store_path: Path | str):
        self.url = str(store_path) if is_url(store_path) else None
        self.path = Path(str(store_path) + ".lock")
        self.fd: int | None = None
        self.pg: AbstractContextManager[object] | None = None

    def __enter__(self) -> Self:
        if self.url is not None:
            from .store.postgres import RunLock as AdvisoryLock

            lock = AdvisoryLock(self.url)
            lock.__enter__()
            self.pg = lock
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise LockBusy(f"another tidings process (pid {holder}) is using {self.path.with_suffix('')}; "
                           "try again when it has finished") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.pg is not None:
            self.pg.__exit__(exc_type, exc, tb)
            self.pg = None
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def apply_filter_changes(store: Store, sources: list[Source]) -> None:
    """Items are filtered once, when first stored; when a source's filters change, re-evaluate it once."""
    for s in sources:
        flt = s.item_filter
        fp = flt.fingerprint if flt is not None and flt.active else ""
        key = f"filter:{s.key}"
        if (store.get_meta(key) or "") != fp:
            store.refilter(s, flt.accepts if flt is not None and fp else (lambda **_: True))
            store.set_meta(key, fp)


def fetch(cfg: Config, store: Store, progress: Progress = _quiet, *, force: bool = False,
          interval: float | None = None) -> list[SourceOutcome]:
    """Refresh the sources that are due (all of them with `force`); the others are reported as waiting."""
    import asyncio

    from .fetch import HostLimits, make_client
    from .jobs import JobContext, Shared, StoreThread, body_budget_for, ingest_many, not_due, refresh_source_async

    configured = cfg.feed_sources()
    store.sync_sources(configured)
    now = time.time()
    due = [s for s in configured if is_due(store.next_fetch(s.key), now, force=force)]
    due_keys = {s.key for s in due}
    outcomes = [not_due(store, s) for s in configured if s.key not in due_keys]
    ctx = JobContext(cfg, interval)
    validators = {s.key: (st.etag, st.last_modified) for s in due for st in [store.source_state(s.key)]}
    progress("start", stage="fetch", total=len(due))
    full_text = any(s.full_text for s in due)

    def store_many(results: list[FetchResult]) -> list[SourceOutcome]:
        return ingest_many(store, results, ctx.cleaner, schedule=ctx.schedule,
                           full_text=ctx.full_text if full_text else None, stories=ctx.stories)

    lane = StoreThread(2 * cfg.fetch.concurrency, store_many)

    async def refresh_all() -> None:
        opts = ctx.fetch_options
        async with make_client(opts) as client:
            shared = Shared(client, HostLimits(opts.concurrency, opts.per_host), lane, validators, lane.ingest,
                            body_budget_for(opts))

            async def one(source: Source) -> None:
                # force=True: this run has already chosen the due sources.
                outcome = await refresh_source_async(ctx, source.key, store, force=True, shared=shared)
                outcomes.append(outcome)
                progress("source", outcome=outcome)

            await asyncio.gather(*(one(s) for s in due))

    try:
        asyncio.run(refresh_all())
    finally:
        lane.shutdown()
    order = {s.key: i for i, s in enumerate(configured)}
    outcomes.sort(key=lambda o: order[o.source.key])
    return outcomes


def build(cfg: Config, store: Store, progress: Progress = _quiet, *, full: bool = False
          ) -> tuple[HexoReport | None, SiteReport | None]:
    """Hexo posts and the built-in site; `full`: the site checks every file, not only what changed."""
    hexo_report = site_report = None
    if cfg.hexo:
        from .publish.hexo import build_posts

        progress("start", stage="hexo", total=None)
        hexo_report = build_posts(store, cfg.resolve(cfg.hexo.dir), preset=cfg.hexo.front_matter,
                                  clean=cfg.hexo.clean, timezone=cfg.site.timezone)
    if cfg.site_dir:
        progress("start", stage="site", total=None)
        site_report = build_builtin_site(cfg, store, progress, full=full)
    return hexo_report, site_report


def build_builtin_site(cfg: Config, store: Store, progress: Progress = _quiet, *, full: bool = False) -> SiteReport:
    from .publish.site import SiteConfig, build_site

    if cfg.site_dir is None:
        raise ValueError("build_builtin_site: the configuration has no site_dir")
    s = cfg.site
    site_cfg = SiteConfig(title=s.title, url=s.url, timezone=s.timezone, language=s.language, per_page=s.per_page,
                          search=s.search, theme_dir=cfg.resolve(cfg.theme_dir) if cfg.theme_dir else None,
                          description=s.description,
                          tag_min_items=cfg.tags.min_items_for_page if cfg.tags.enabled else 0)

    def step(stage: str, done: int, total: int) -> None:
        progress("step", what=stage, done=done, total=total)

    report: SiteReport = build_site(store, site_cfg, cfg.resolve(cfg.site_dir), progress=step, full=full)
    return report


def run(cfg: Config, *, do_fetch: bool = True, do_build: bool = True, progress: Progress = _quiet,
        force: bool = False, interval: float | None = None, full: bool = False) -> RunReport:
    started = time.monotonic()
    report = RunReport()
    with RunLock(cfg.store_path), open_store(cfg.store_path) as store:
        store.sync_sources(cfg.feed_sources())
        apply_filter_changes(store, cfg.feed_sources())
        if do_fetch:
            report.outcomes = fetch(cfg, store, progress, force=force, interval=interval)
        for s in cfg.feed_sources():  # retention applies whether or not the source was due
            if s.retain_days or s.retain_per_source:
                store.prune(s)
        if do_build:
            report.hexo, report.site = build(cfg, store, progress, full=full)
    report.seconds = time.monotonic() - started
    return report
