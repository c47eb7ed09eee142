"""Crash safety: `tidings run` killed with SIGKILL at random points, then one recovery run.

After the recovery run the outputs must be as if no run had ever been killed:

* no temp files (`.tidings-tmp-*`), no journal, no partial post files;
* `PRAGMA integrity_check` is ok (SQLite);
* posts and store agree: every published item of an active source has exactly one ledger row
  (`posts`), the file exists, is complete and holds that item's title; no post file outside the ledger.

Two tests: a seeded random kill loop (set TIDINGS_CRASH_SEED to replay one; the seed is in every
assertion message), and deterministic kills at the n-th file replace / unlink of a build (a stand-in
for SIGKILL at exactly those instructions, via a wrapper that SIGKILLs its own process).

What they check does not depend on the store, so they run on a SQLite and on a PostgreSQL store (store_at); a
SIGKILLed process's PostgreSQL transaction is rolled back by the server, SQLite's by the next opener of the
file. On PostgreSQL the random loop is shorter (LOOP) and the exact points fewer (CRASH_POINTS_PG), for time.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from feedserver import FeedServer, rss
from util import empty_database, is_pg, store_rows, write_config

pytestmark = pytest.mark.slow

PY = sys.executable
FEEDS = 6
ITEMS_PER_FEED = 60
TRAILER = "</div>\n            "

# Configs the operator switches between: each switch re-renders (and for the hexo preset moves) every
# post, so a build has hundreds of writes, renames and unlinks to be killed in.
VARIANTS = [
    {"front_matter": "seed", "clean": True},
    {"front_matter": "seed", "clean": False},
    {"front_matter": "hexo", "clean": True},
]


class World:
    """Feeds on a local server whose items change between runs (titles, bodies, new items)."""

    def __init__(self, server: FeedServer, rng: random.Random):
        self.server, self.rng = server, rng
        self.feeds: list[list[dict]] = []
        self.counter = 0
        for f in range(FEEDS):
            self.feeds.append([self._item(f) for _ in range(ITEMS_PER_FEED)])
        self.publish()

    def _item(self, f: int) -> dict:
        self.counter += 1
        n = self.counter
        kinds = [f"Story {n}", f"新闻 第{n}条：市场", f"It's \"quoted\": {n}", f"#{n} - a: b", f"Same title {n % 7}"]
        minute = n % 60
        hour = (n // 60) % 24
        return {"title": kinds[n % len(kinds)], "link": f"http://news.example.com/{f}/{n}", "guid": f"g-{f}-{n}",
                "pubDate": f"Mon, 14 Mar 2022 {hour:02d}:{minute:02d}:00 GMT",
                "description": f"<p>Body {n}</p>" + "<p>filler text</p>" * self.rng.randint(1, 40)}

    def publish(self) -> None:
        for f, items in enumerate(self.feeds):
            self.server.add(f"/feed{f}", rss(items, title=f"Feed {f}"))

    def mutate(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(0, 12)):  # retitle: the post moves
            it = rng.choice(rng.choice(self.feeds))
            it["title"] = rng.choice([f"Retitled {rng.randint(0, 10**6)}", "Same title 3", "同名标题"])
        for _ in range(rng.randint(0, 12)):  # new body: the post is rewritten in place
            it = rng.choice(rng.choice(self.feeds))
            it["description"] = f"<p>edited {rng.randint(0, 10**6)}</p>"
        for _ in range(rng.randint(0, 6)):  # new items
            f = rng.randrange(FEEDS)
            self.feeds[f].append(self._item(f))
        self.publish()

    def config(self, root: Path, store_at: str, variant: dict, *, drop_feed: int | None = None) -> Path:
        sources = []
        for f in range(FEEDS):
            if f == drop_feed:
                continue  # a source removed from the config: its posts go
            s = {"category": "新闻" if f % 2 else "Tech", "source": f"Source {f}", "channel": f"ch{f % 3}",
                 "url": self.server.url(f"/feed{f}"), "limit": 500}
            if f == 0:
                s["retain_per_source"] = 45  # pruning deletes posts as new items arrive
            sources.append(s)
        return write_config(root, sources, hexo={"dir": "blog", **variant}, store=store_at)


def _run(cfg: Path, *, wrapper: str | None = None) -> subprocess.Popen:
    args = [PY, "-c", wrapper, "run", "--force", "-c", str(cfg)] if wrapper else \
        [PY, "-m", "tidings.cli", "run", "--force", "-c", str(cfg)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _complete_run(cfg: Path, why: str) -> str:
    proc = _run(cfg)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 3), f"{why}: recovery run exit {proc.returncode}\n{out}\n{err}"
    return out


def _timed_run(cfg: Path, why: str) -> tuple[float, float]:
    """A complete run: (its seconds, the seconds from "building hexo" to its end)."""
    proc = _run(cfg)
    t0 = time.monotonic()
    built = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if built is None and "building hexo" in line:
            built = time.monotonic()
    proc.wait(timeout=60)
    end = time.monotonic()
    assert proc.returncode in (0, 3), f"{why}: calibration run exit {proc.returncode}"
    return end - t0, end - (built or t0)


def _front_matter(text: str) -> dict:
    head = text.lstrip("\n")
    assert head.startswith("---\n"), text[:200]
    return yaml.safe_load(head[4:].split("\n---\n", 1)[0])


def check_invariants(root: Path, store_at: str, why: str) -> dict:
    """The recovered state is consistent; returns some counts for the caller's sanity checks."""
    from tidings.publish.frontmatter import yaml_safe_text

    posts_dir = root / "blog" / "source" / "_posts"
    leftovers = [str(p.relative_to(root)) for p in root.rglob("*")
                 if p.name.startswith((".tidings-tmp-", ".tidings-journal", ".tmp-"))]
    assert not leftovers, f"{why}: temp/journal files left behind: {leftovers[:10]}"

    if not is_pg(store_at):
        assert store_rows(store_at, "PRAGMA integrity_check") == [("ok",)], why
    published = {(k, i): t for k, i, t in store_rows(
        store_at, "SELECT i.source_key, i.id, i.title FROM items i JOIN sources s ON s.key = i.source_key "
        "WHERE i.state = 'published' AND s.active")}
    ledger = {(k, i): p for k, i, p in store_rows(store_at, "SELECT source_key, id, path FROM posts")}

    assert published, why
    missing = set(published) - set(ledger)
    extra = set(ledger) - set(published)
    assert not missing, f"{why}: published items without a post: {sorted(missing)[:5]}"
    assert not extra, f"{why}: ledger rows for items that are not published: {sorted(extra)[:5]}"
    assert len(set(ledger.values())) == len(ledger), f"{why}: two items share one post path"

    on_disk = {p.relative_to(posts_dir).as_posix() for p in posts_dir.rglob("*") if p.is_file()}
    orphans = on_disk - set(ledger.values())
    assert not orphans, f"{why}: post files no item owns: {sorted(orphans)[:10]}"
    for key, rel in ledger.items():
        path = posts_dir / rel
        assert path.is_file(), f"{why}: ledger names {rel} for {key} but there is no such file"
        text = path.read_text(encoding="utf-8")
        assert text.endswith(TRAILER), f"{why}: {rel} is incomplete"
        title = _front_matter(text)["title"]
        assert str(title) == yaml_safe_text(published[key]), f"{why}: {rel} holds {title!r}, not {published[key]!r}"
    return {"posts": len(ledger)}


def quiet_server() -> FeedServer:
    server = FeedServer()
    server.server.handle_error = lambda request, address: None  # killed clients reset connections
    return server.start()


# The random loop's size per backend: at least `rounds` runs and `kills` kills (of which `torn` inside a build)
# within `seconds`. PostgreSQL's is shorter, for time (about 40 s, where SQLite's takes 70 to 90).
LOOP = {"sqlite": dict(rounds=24, kills=20, torn=3, seconds=70),
        "postgres": dict(rounds=12, kills=10, torn=2, seconds=40)}


def test_random_sigkill_then_recovery(tmp_path, store_at):
    seed = int(os.environ.get("TIDINGS_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    why = f"TIDINGS_CRASH_SEED={seed}"
    loop = LOOP["postgres" if is_pg(store_at) else "sqlite"]
    rng = random.Random(seed)
    server = quiet_server()
    try:
        world = World(server, rng)
        # Calibrate: how long does a run like the ones killed below take here (a variant switch: every post
        # re-rendered)? Kill delays cover that span. Not the first run: it also reads, tags and groups every
        # item, which the later runs mostly do not, so delays cut to it would outlast most runs.
        calib = tmp_path / "calibrate"
        calib.mkdir()
        calib_store = store_at if is_pg(store_at) else str(calib / "store.db")
        _complete_run(world.config(calib, calib_store, VARIANTS[0]), why)
        full, build = _timed_run(world.config(calib, calib_store, VARIANTS[1]), why)
        if is_pg(store_at):
            empty_database(store_at)  # the killed runs start from an empty store, as on SQLite

        root = tmp_path / "site"
        root.mkdir()
        kills = finished = in_build = torn = 0
        deadline = time.monotonic() + loop["seconds"]
        rounds = 0
        variant = VARIANTS[0]
        # Until enough runs, kills and kills inside a build (the journal's window is short and aimed at by a
        # random delay: a fixed number of rounds sometimes landed one short), within the time allowed.
        while ((rounds < loop["rounds"] or kills < loop["kills"] or torn < loop["torn"])
               and time.monotonic() < deadline):
            rounds += 1
            world.mutate()
            # A different preset or clean setting each time: every build re-renders (and for the hexo
            # preset moves) all posts, so there is a long build to be killed in.
            variant = rng.choice([v for v in VARIANTS if v != variant])
            cfg = world.config(root, store_at, variant, drop_feed=rng.choice([None] * 5 + [3]))
            proc = _run(cfg)
            built = threading.Event()

            def watch(p=proc, ev=built):
                for line in p.stderr:
                    if "building hexo" in line:
                        ev.set()

            t = threading.Thread(target=watch, daemon=True)
            t.start()
            if rng.random() < 0.6:
                # Aim at the build: wait for it to start, then kill somewhere inside it (delays cut to the
                # build's own span: as posts got cheaper, half a whole run outlasted most builds).
                built.wait(timeout=full * 3)
                time.sleep(rng.uniform(0, build * 0.8))
            else:
                time.sleep(rng.uniform(0, full * 1.1))
            if proc.poll() is None:
                in_build += built.is_set()
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
            t.join(timeout=5)
            if proc.returncode in (0, 3):
                finished += 1
            else:
                assert proc.returncode == -signal.SIGKILL, f"{why}: run {rounds} exit {proc.returncode}"
                # Killed inside the build: a journal (and maybe temp files) must be waiting for recovery.
                torn += (root / "blog" / "source" / "_posts" / ".tidings-journal").exists()
        assert kills >= loop["kills"], f"{why}: only {kills} of {rounds} runs were killed mid-way"
        assert torn >= loop["torn"], f"{why}: only {torn} of {kills} kills landed inside a build"
        print(f"{why}: {rounds} runs, {kills} killed ({in_build} after the build started, {torn} inside it), "
              f"{finished} finished")

        final = world.config(root, store_at, rng.choice(VARIANTS))
        _complete_run(final, why)
        counts = check_invariants(root, store_at,
                                  f"{why} ({kills} kills, {in_build} in the build, {finished} finished)")
        assert counts["posts"] >= FEEDS * 40
        # The recovered state is stable: one more run changes no file.
        out = _complete_run(final, why)
        assert "0 written" in out and "0 deleted" in out, f"{why}: second run after recovery: {out}"
    finally:
        server.stop()


# --- deterministic crash points -------------------------------------------------------------------

# Runs the CLI with one file operation of the Hexo build replaced by "SIGKILL myself before (or after)
# the n-th call": the process dies exactly there, with no finally blocks, like a power cut for our files.
WRAPPER = r"""
import contextlib, os, signal, sys
from pathlib import Path
import tidings.publish.atomic as atomic
import tidings.publish.hexo as hexo
import tidings.store.postgres as pgstore
import tidings.store.sqlite as store

op, when, n = os.environ["CRASH_AT"].split(":")
n = int(n)
state = {"building": False, "calls": 0}

def die_at_n(real):
    def wrapped(*a, **k):
        hit = False
        if state["building"]:
            state["calls"] += 1
            hit = state["calls"] == n
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        r = real(*a, **k)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return r
    return wrapped

real_build = hexo.build_posts
def build_posts(*a, **k):
    state["building"] = True
    try:
        return real_build(*a, **k)
    finally:
        state["building"] = False
hexo.build_posts = build_posts

if op == "replace":  # the rename that publishes a written temp file
    shim = type(os)("os_shim")
    shim.__dict__.update(os.__dict__)
    shim.replace = die_at_n(os.replace)
    atomic.os = shim
elif op == "unlink":  # removal of a post's old path (moves, deletions, recovery)
    Path.unlink = die_at_n(Path.unlink)
elif op == "commit":  # the end of the build's ledger transaction
    store._Tx.__exit__ = die_at_n(store._Tx.__exit__)
    committed = die_at_n(lambda: None)  # PostgreSQL: after the outermost transaction block (not a savepoint)
    real_tx = pgstore.PostgresStore.transaction
    @contextlib.contextmanager
    def transaction(self):
        outer = not self._in_transaction()
        with real_tx(self):
            yield
        if outer:
            committed()
    pgstore.PostgresStore.transaction = transaction
from tidings.cli import main
sys.exit(main(sys.argv[1:]))
"""

CRASH_POINTS = [
    "replace:before:1", "replace:after:1", "replace:before:7", "replace:after:40", "replace:before:130",
    "unlink:before:1", "unlink:after:5", "unlink:after:60", "commit:after:1",
]
# On PostgreSQL, for time: a file renamed but its ledger row not committed, and right after the commit (the
# unlink points are the file journal's alone: the store has committed by then).
CRASH_POINTS_PG = ["replace:after:40", "commit:after:1"]


@pytest.mark.parametrize(("store_at", "point"), [("sqlite", p) for p in CRASH_POINTS] +
                         [("postgres", p) for p in CRASH_POINTS_PG], indirect=["store_at"])
def test_kill_at_exact_points(tmp_path, store_at, point):
    """seed preset → first build killed; recovery in the hexo preset (every post moves) killed too; then
    one clean run. Exercises a kill between temp write and rename, between rename and ledger commit,
    between ledger and unlink of the old path, and right after the commit. On PostgreSQL only the two points
    of CRASH_POINTS_PG, for time (each costs 12-18 s there); the others are SQLite only."""
    why = f"CRASH_AT={point}"
    server = quiet_server()
    try:
        world = World(server, random.Random(7))
        steps = [VARIANTS[0], VARIANTS[2], VARIANTS[0]]
        for i, variant in enumerate(steps):
            cfg = world.config(tmp_path, store_at, variant)
            last = i == len(steps) - 1
            if last:
                _complete_run(cfg, why)
                break
            if i:
                world.mutate()
            proc = subprocess.Popen([PY, "-c", WRAPPER, "run", "--force", "-q", "-c", str(cfg)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "CRASH_AT": point})
            out, err = proc.communicate(timeout=60)
            assert proc.returncode in (-signal.SIGKILL, 0, 3), f"{why}: exit {proc.returncode}\n{err}"
        check_invariants(tmp_path, store_at, why)
    finally:
        server.stop()


SITE_WRAPPER = r"""
import os, signal, sys
import tidings.publish.site as site
import tidings.publish.site.manifest as manifest
n = int(os.environ["CRASH_AT"])
main_pid = os.getpid()
state = {"building": False, "calls": 0}
real_build = site.build_site
def build_site(*a, **k):
    state["building"] = True
    return real_build(*a, **k)
site.build_site = build_site
real_atomic = manifest.atomic_write
def atomic_write(path, data, *a, **k):
    # Counted in whichever process writes (pages are rendered by forked workers too): the n-th page
    # replaced is left as a half-written temp file, then the whole run is killed.
    if state["building"]:
        state["calls"] += 1
        if state["calls"] == n:
            head, name = os.path.split(os.fspath(path))
            with open(os.path.join(head, f".tidings-tmp-{os.getpid()}-{name}"), "wb") as f:
                f.write(data[: len(data) // 2])
            os.kill(main_pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
    return real_atomic(path, data, *a, **k)
manifest.atomic_write = atomic_write
from tidings.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_site_build_killed_mid_write_leaves_nothing_behind(tmp_path, store_at):
    """The built-in site, killed between writing a page's temp file and renaming it, then rebuilt."""
    from tidings.store import open_store

    server = quiet_server()
    try:
        world = World(server, random.Random(11))
        cfg = world.config(tmp_path, store_at, VARIANTS[0])
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        data.update(site_dir="public", site={**data["site"], "search": False})
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        _complete_run(cfg, "site")  # a first, complete build ...
        data["site"]["title"] = "renamed"  # ... then every page changes, so the next build replaces them
        cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        proc = subprocess.run([PY, "-c", SITE_WRAPPER, "run", "--force", "-q", "-c", str(cfg)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "CRASH_AT": "25"})
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        _complete_run(cfg, "site")
        check_invariants(tmp_path, store_at, "site")  # the Hexo side (and the store) recovered
        public = tmp_path / "public"
        with open_store(store_at) as store:
            recorded = set(store.site_files(str(public.resolve())))
        files = {p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file()}
        assert not [f for f in files if "/.tidings-tmp-" in "/" + f], sorted(files)[:5]
        assert files - {".tidings-site"} == recorded
    finally:
        server.stop()
