"""The one place that knows the order: sources → fetch → parse → clean → store → publish."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .config import Config
from .errors import LockBusy
from .fetch import FetchOptions, fetch_all
from .model import Entry, FetchResult, ItemState, Source
from .parse import ParseError, parse_feed
from .schedule import Policy, is_due, next_fetch_after_failure, next_fetch_after_success
from .store import IngestRow, Store, open_store

log = logging.getLogger("tidings")
Progress = Callable[..., None]  # progress(event, **details); events: start, source, stage


def _quiet(event: str, **_: object) -> None:
    pass


@dataclass(slots=True)
class SourceOutcome:
    source: Source
    status: str  # new | not-modified | failed | waiting (not due) | backoff (not due, failing)
    new: int = 0
    changed: int = 0
    reason: str = ""
    filtered: int = 0
    notes: list[str] = field(default_factory=list)  # problems that did not fail the source


@dataclass(slots=True)
class RunReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    hexo: object | None = None
    site: object | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "backoff")]

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
    """One tidings process per store at a time: a second one is refused with a clear message."""

    def __init__(self, store_path: Path):
        self.path = Path(str(store_path) + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
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

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def fetch_options(cfg: Config) -> FetchOptions:
    f = cfg.fetch
    return FetchOptions(concurrency=f.concurrency, per_host=f.per_host, timeout=f.timeout, max_bytes=f.max_bytes,
                        max_redirects=f.max_redirects, retries=f.retries, user_agent=f.user_agent)


# --- clean ------------------------------------------------------------------------------------------

class Cleaner:
    """Turns a parsed Entry into (entry with cleaned text fields, publishable HTML)."""

    def __init__(self, cfg: Config):
        from .clean import clean_html, clean_text, load_rules, pick_cover, strip_invalid_xml

        self._clean_html, self._clean_text, self._pick_cover = clean_html, clean_text, pick_cover
        self._strip_invalid = strip_invalid_xml
        self.rules = load_rules(cfg.rules or None)

    def __call__(self, e: Entry) -> tuple[Entry, str]:
        for name in ("title", "author", "link", "guid"):
            setattr(e, name, self._clean_text(getattr(e, name)))
        e.tags = [self._clean_text(t) for t in e.tags]
        # `content` stays as the feed gave it (hexo `clean: false` publishes it verbatim), less the
        # characters no XML/HTML file may hold; the published HTML also gets mojibake repair.
        e.content = self._strip_invalid(e.content)
        html = self._clean_html(e.content, e.base or e.link, self.rules)  # repairs mojibake itself
        # The feed's own cover (enclosure, media, JSON image) comes first; then the images of the cleaned
        # HTML, where pick_cover skips tracking pixels, icons, QR codes and blocks the site rules remove.
        explicit = [e.cover] if e.cover and e.cover_explicit else []
        e.cover = self._pick_cover(html, explicit, e.base or e.link, self.rules, cleaned=True)
        return e, html


_TAGS = re.compile(r"<[^>]+>")


class FullText:
    """Fetches the article page of new items from `full_text` sources and extracts the story.

    Only items not yet in the store are fetched, so a page is fetched once; with `full_text: auto`
    only items whose cleaned text is shorter than `fetch.full_text_min_chars`. Requests go through
    the SSRF guard: never to loopback/private/link-local addresses unless `fetch.allow_private`.
    """

    def __init__(self, cfg: Config, rules):
        f = cfg.fetch
        self.opts, self.rules = f, rules
        self.concurrency = max(1, min(f.concurrency, 4))

    def wanted(self, source: Source, html: str) -> bool:
        if source.full_text is True:
            return True
        return source.full_text == "auto" and len(_TAGS.sub("", html).strip()) < self.opts.full_text_min_chars

    def enrich(self, store: Store, source: Source, pairs: list[tuple[Entry, str]]) -> tuple[list[tuple], list[str]]:
        """(entry, html) → (entry, html, fulltext); notes say which articles could not be fetched."""
        known = store.known_ids(source.key)
        todo = [i for i, (e, html) in enumerate(pairs) if e.id not in known and e.link and self.wanted(source, html)]
        out = [(e, html, False) for e, html in pairs]
        if not todo:
            return out, []
        pages = asyncio.run(self._fetch([pairs[i][0].link for i in todo]))
        notes = []
        from .clean import extract_article, pick_cover

        for i, page in zip(todo, pages):
            e, html = pairs[i]
            if isinstance(page, Exception):
                notes.append(f"full text of {e.link}: {page}")
                continue
            article = extract_article(page, e.link, self.rules)
            if not article:
                notes.append(f"full text of {e.link}: no article found on the page")
                continue
            if not e.cover:
                e.cover = pick_cover(article, [], e.link, self.rules, cleaned=True)
            out[i] = (e, article, True)
        return out, notes

    async def _fetch(self, urls: list[str]) -> list:
        from .clean import fetch_article
        from .http import HTML_ACCEPT, Limits, make_client

        sem = asyncio.Semaphore(self.concurrency)
        o = self.opts
        # The feed fetcher's limits: body cap on decoded bytes, total time, redirects (each hop checked).
        limits = Limits(timeout=o.timeout, max_bytes=o.max_bytes, max_redirects=o.max_redirects)
        async with make_client(user_agent=o.user_agent, accept=HTML_ACCEPT, timeout=o.timeout,
                               connections=self.concurrency) as client:
            async def one(url: str):
                async with sem:
                    return await fetch_article(client, url, allow_private=o.allow_private, limits=limits)

            return await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)


def newest(entries: list[Entry], limit: int) -> list[Entry]:
    """The newest `limit` entries; undated ones keep their feed position and count as newest."""
    far = datetime.max.replace(tzinfo=timezone.utc)
    ranked = sorted(enumerate(entries), key=lambda p: (-(p[1].published or far).timestamp(), p[0]))
    return [e for _, e in ranked[:limit]]


# --- schedule ---------------------------------------------------------------------------------------

class Schedule:
    """Next-fetch times per source from the configured policy (see schedule.py)."""

    def __init__(self, cfg: Config | None = None, interval: float | None = None):
        f = cfg.fetch if cfg else None
        self.policy = Policy(min_interval=f.min_interval, max_interval=f.max_interval,
                             backoff_cap=max(f.backoff_cap, 600.0)) if f else Policy()
        self.interval = interval or (f.interval if f else 1800.0)

    def after_success(self, now: float, result: FetchResult, ttl_minutes: int | None = None) -> float:
        return next_fetch_after_success(now, ttl_minutes=ttl_minutes, headers=result.headers,
                                        interval=self.interval, policy=self.policy)

    def after_failure(self, now: float, errors_in_a_row: int, retry_after: float | None) -> float:
        return next_fetch_after_failure(now, errors_in_a_row=errors_in_a_row, retry_after=retry_after,
                                        policy=self.policy)


# --- stages -----------------------------------------------------------------------------------------

def ingest(store: Store, result: FetchResult, clean: Cleaner, now: float | None = None,
           schedule: Schedule | None = None, full_text: FullText | None = None) -> SourceOutcome:
    """parse → clean → store for one fetched source. Never raises for a bad feed."""
    source = result.source
    now = now or time.time()
    schedule = schedule or Schedule()

    def failed(reason: str) -> SourceOutcome:
        count = store.record_failure(source.key, reason, now)
        store.set_next_fetch(source.key, schedule.after_failure(now, count, result.retry_after))
        return SourceOutcome(source, "failed", reason=reason)

    if not result.ok:
        return failed(result.error or "failed")
    if result.not_modified:
        store.record_success(source.key, result.etag, result.last_modified, now=now,
                             next_fetch=schedule.after_success(now, result))
        return SourceOutcome(source, "not-modified")
    try:
        feed = parse_feed(result.body, source, content_type=result.content_type, url=result.final_url)
    except ParseError as e:
        return failed(str(e))
    except RecursionError:
        return failed("nested too deeply to parse")
    try:
        return _store_feed(store, result, feed, clean, now, schedule, full_text)
    except RecursionError:
        return failed("nested too deeply to clean")
    except Exception as e:  # noqa: BLE001 - a bug on one feed must not stop the others
        log.exception("%s: unexpected error while reading the feed", source.label)
        return failed(f"bug while reading the feed: {type(e).__name__}: {e}")


def _store_feed(store: Store, result: FetchResult, feed, clean: Cleaner, now: float, schedule: Schedule,
                full_text: FullText | None) -> SourceOutcome:
    source = result.source
    pairs = [clean(e) for e in newest(feed.entries, source.limit)]
    rows, notes = (full_text.enrich(store, source, pairs) if full_text and source.full_text
                   else ([(e, html, False) for e, html in pairs], []))
    flt = source.item_filter
    staged = []
    for e, html, fulltext in rows:
        ok = flt is None or flt.accepts(title=e.title, content=html, author=e.author, link=e.link,
                                        categories=source.categories + e.tags)
        staged.append(IngestRow(e, html, ItemState.PUBLISHED if ok else ItemState.FILTERED, fulltext))
    new, changed = store.upsert_entries(staged, now=now)
    notes = feed.notes + notes  # recovered breakage first, then what full text skipped
    store.record_success(source.key, result.etag, result.last_modified, feed.title or None, now=now,
                         next_fetch=schedule.after_success(now, result, feed.ttl_minutes),
                         note="; ".join(notes) or None)
    for note in notes:
        log.warning("%s: %s", source.label, note)
    return SourceOutcome(source, "new", new=new, changed=changed, notes=notes,
                         filtered=sum(r.state == ItemState.FILTERED for r in staged))


def apply_filter_changes(store: Store, sources: list[Source]) -> None:
    """Items are filtered once, when first stored; when a source's filters change, re-evaluate it once."""
    for s in sources:
        fp = s.item_filter.fingerprint if s.item_filter is not None and s.item_filter.active else ""
        key = f"filter:{s.key}"
        if (store.get_meta(key) or "") != fp:
            store.refilter(s, s.item_filter.accepts if fp else (lambda **_: True))
            store.set_meta(key, fp)


def _not_due(store: Store, source: Source) -> SourceOutcome:
    st = store.source_state(source.key)
    if not st.error_count:
        return SourceOutcome(source, "waiting")
    when = datetime.fromtimestamp(store.next_fetch(source.key) or 0, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return SourceOutcome(source, "backoff", reason=f"{st.last_error} ({st.error_count} in a row; next try {when})")


def fetch(cfg: Config, store: Store, progress: Progress = _quiet, *, force: bool = False,
          interval: float | None = None) -> list[SourceOutcome]:
    """Fetch the sources that are due (all of them with `force`); the others are reported as waiting."""
    configured = cfg.feed_sources()
    store.sync_sources(configured)
    now = time.time()
    sources = [s for s in configured if is_due(store.next_fetch(s.key), now, force=force)]
    outcomes = [_not_due(store, s) for s in configured if s not in sources]
    cleaner = Cleaner(cfg)
    schedule = Schedule(cfg, interval)
    full_text = FullText(cfg, cleaner.rules) if any(s.full_text for s in sources) else None
    validators = {s.key: (st.etag, st.last_modified) for s in sources for st in [store.source_state(s.key)]}
    progress("start", stage="fetch", total=len(sources))

    # Parsing, cleaning and storing run on one worker thread, so the event loop keeps every fetch
    # moving meanwhile; the store is only touched from that thread until the fetches are done.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def ingest_one(result: FetchResult) -> None:
        outcome = ingest(store, result, cleaner, schedule=schedule, full_text=full_text)
        outcomes.append(outcome)
        progress("source", outcome=outcome)

    pending = []
    # Bodies waiting for the ingest thread hold memory: at most 2 × concurrency of them at once.
    backlog = threading.BoundedSemaphore(2 * cfg.fetch.concurrency)

    def ingest_released(result: FetchResult) -> None:
        try:
            ingest_one(result)
        finally:
            backlog.release()

    async def queue(result: FetchResult) -> None:
        while not backlog.acquire(blocking=False):
            await asyncio.sleep(0.005)
        pending.append(worker.submit(ingest_released, result))

    try:
        asyncio.run(fetch_all(sources, fetch_options(cfg), state=lambda s: validators[s.key], on_result=queue))
    finally:
        worker.shutdown(wait=True)
    for f in pending:
        f.result()  # re-raise a bug in ingest here, in the caller's thread
    order = {s.key: i for i, s in enumerate(configured)}
    outcomes.sort(key=lambda o: order[o.source.key])
    return outcomes


def build(cfg: Config, store: Store, progress: Progress = _quiet) -> tuple[object | None, object | None]:
    hexo_report = site_report = None
    if cfg.hexo:
        from .publish.hexo import build_posts

        progress("start", stage="hexo", total=None)
        hexo_report = build_posts(store, cfg.resolve(cfg.hexo.dir), preset=cfg.hexo.front_matter,
                                  clean=cfg.hexo.clean, timezone=cfg.site.timezone)
    if cfg.site_dir:
        progress("start", stage="site", total=None)
        site_report = build_builtin_site(cfg, store, progress)
    return hexo_report, site_report


def build_builtin_site(cfg: Config, store: Store, progress: Progress = _quiet):
    from .publish.site import SiteConfig, build_site

    s = cfg.site
    site_cfg = SiteConfig(title=s.title, url=s.url, timezone=s.timezone, language=s.language, per_page=s.per_page,
                          search=s.search, theme_dir=cfg.resolve(cfg.theme_dir) if cfg.theme_dir else None,
                          description=s.description)
    return build_site(store, site_cfg, cfg.resolve(cfg.site_dir),
                      progress=lambda stage, done, total: progress("step", what=stage, done=done, total=total))


def run(cfg: Config, *, do_fetch: bool = True, do_build: bool = True, progress: Progress = _quiet,
        force: bool = False, interval: float | None = None) -> RunReport:
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
            report.hexo, report.site = build(cfg, store, progress)
    report.seconds = time.monotonic() - started
    return report
