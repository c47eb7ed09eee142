"""Benchmark of the built-in site (SPEC §8): full, no-change and one-new-item builds, search off and on.

    .venv/bin/python bench/site.py --items 10000 [--size 5000] [--repeat 3] [--hexo] [--dir /dev/shm]

Generates N items (≈ --size bytes of HTML each, Chinese and English, shaped like the seed's Sina article,
stored as `tidings run` stores them: through the cleaner) into a temporary store, then runs each build in its
own subprocess and reports its time (measured inside the build; and "process wall", the subprocess's from
start to exit, Python start-up and imports included) and memory: the build process's own peak (VmHWM) and the
peak of the *sum* of the resident sets of the build and all its children (page workers, Pagefind services),
sampled every 20 ms from /proc; and the CPU seconds of all of them (user + system): on 2 cores a build cannot
take less than half of that.
After the full build: a no-change build, then one new item twice (the second is the steady case: the first
may also meet a new day). With search on, Pagefind's own CLI then indexes the same item pages into one
bundle, in the same run: the floor the full build with search is compared with (SPEC §8: ≤ 1.2 ×).
Builds run with compiled bytecode, as an installed tidings does (PYTHONDONTWRITEBYTECODE is dropped).
Full builds are repeated --repeat times, each into a fresh directory (the fastest is reported, and the
spread). Every build writes into a directory of its own and nothing is deleted until the end: on this
machine's ext4 (no journal), inodes freed in the last minute (six, while their inode table is not yet
written back) are skipped one by one when a file is created, so deleting a site — this benchmark's own
clean-up, anybody's — makes file creation several times slower for a while. Run it on a quiet machine.
With --hexo, tidings writes the same items once as Hexo posts (seed preset) and `hexo generate` (Hexo 8)
runs, one site after the other, in two sites holding those posts: the site `hexo init` makes (bench/hexo_site.py:
landscape theme, index / archive / category / tag generators, stylus, + feed and sitemap, 30 a page), and the
test harness's minimal theme (tests/hexo_harness.py), a lower bound. Each is one whole `node` process, timed
from outside, peak RSS from /usr/bin/time; its seconds are divided by the full build's, search off (as measured
inside the build, and as a whole process).
Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# Builds run as a user's do: with compiled bytecode (pip writes it on install; PYTHONDONTWRITEBYTECODE, set
# on some CI machines, would make every build compile tidings' modules again).
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _child(args: argparse.Namespace) -> None:
    """Run one build in this process and print its figures as JSON."""
    from tidings.publish.site import SiteConfig, build_site
    from tidings.store import open_store

    store = open_store(args.store)
    cfg = SiteConfig(title="资讯聚合", url="https://news.example.com/", timezone="Asia/Shanghai", language="zh-CN",
                     search=args.search)
    t0 = time.perf_counter()
    report = build_site(store, cfg, Path(args.out))
    wall = time.perf_counter() - t0
    store.close()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime  # build, page workers, Pagefind services
    print(json.dumps({"seconds": wall, "search_seconds": report.search_seconds, "written": report.written,
                      "unchanged": report.unchanged, "deleted": report.deleted, "shards": report.search_shards,
                      "indexed": report.search_indexed, "rss_mb": _status(os.getpid(), "VmHWM"), "cpu": cpu}))


def _status(pid: int, key: str) -> float:
    """VmRSS / VmHWM of a process in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for child in f.read().split():
                    pids += _tree(int(child))
    except OSError:
        pass
    return pids


class TreeRSS:
    """Samples a process tree: peak of the summed RSS, and the largest peak (VmHWM) of any one child."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every = pid, every
        self.peak_sum = self.peak_child = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = _tree(self.pid)
            self.peak_sum = max(self.peak_sum, sum(_status(p, "VmRSS") for p in pids))
            for p in pids[1:]:
                self.peak_child = max(self.peak_child, _status(p, "VmHWM"))
            time.sleep(self.every)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def build(store: Path, out: Path, search: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--store", str(store), "--out", str(out)]
    if search:
        cmd.append("--search")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV)
    sampler = TreeRSS(proc.pid) if Path("/proc").is_dir() else None
    stdout, stderr = proc.communicate()
    process_seconds = time.perf_counter() - t0  # the whole child: Python start-up, imports, build, exit
    if sampler:
        sampler.close()
    if proc.returncode:
        raise SystemExit(f"build failed:\n{stderr}")
    r = json.loads(stdout.strip().splitlines()[-1])
    r["process_seconds"] = process_seconds
    r["tree_mb"] = sampler.peak_sum if sampler else 0.0
    r["child_mb"] = sampler.peak_child if sampler else 0.0
    return r


def add_one(store_path: Path, k: int) -> None:
    from tidings.publish.site import samples
    from tidings.store import IngestRow, open_store

    store = open_store(store_path)
    newest = next(store.iter_items())
    src = next(s for s in samples.make_sources() if s.key == newest.source_key)
    e, html = samples.entry(src, k, newest.published + timedelta(minutes=3), random.Random(k), size=5000, clean=True)
    store.upsert_entries([IngestRow(e, html)])
    store.close()


def pagefind_cli(site: Path, tmp: Path) -> dict:
    """The floor for search (SPEC §8): Pagefind's own CLI indexing the same item pages (a/**) into one bundle,
    as one whole process, timed from outside, with its peak RSS (/usr/bin/time when there is one)."""
    from tidings.publish.site import search as pf

    out = tmp / "pagefind-cli"
    cmd = [str(pf.executable()), "--site", str(site), "--glob", "a/**/*.html", "--output-path", str(out)]
    timed = ["/usr/bin/time", "-f", "%M"] + cmd if Path("/usr/bin/time").is_file() else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(timed, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"pagefind CLI failed:\n{proc.stderr[-2000:]}")
    rss = proc.stderr.strip().splitlines()[-1] if timed is not cmd else "0"
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "rss_mb": int(rss) / 1024 if rss.isdigit() else 0.0}


def fill_described(store_path: Path, n: int, size: int, step_minutes: float) -> None:
    """samples.fill, but every item described and grouped as `tidings run` does with stories and tags on
    (keywords, so tag pages and their feeds; story fingerprints), in batches of 1,000."""
    from tidings.config import StoriesSettings, TagsSettings
    from tidings.publish.site import samples
    from tidings.store import IngestRow, open_store
    from tidings.stories.assign import StoryStage

    stage = StoryStage(StoriesSettings(), TagsSettings())
    store = open_store(store_path)
    rng = random.Random(7)
    sources = samples.make_sources()
    store.sync_sources(sources)
    when = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
    batch: list = []
    for k in range(n):
        src = sources[rng.randrange(len(sources))]
        e, html = samples.entry(src, k, when, rng, size, clean=True)
        words, fp = stage.describe(e, html)
        batch.append(IngestRow(e, html, keywords=words, fingerprint=fp))
        when -= timedelta(minutes=rng.uniform(0.2, 2 * step_minutes))
        if len(batch) >= 1000 or k == n - 1:
            store.upsert_entries(batch)
            by_source: dict[str, list[str]] = {}
            for r in batch:
                by_source.setdefault(r.entry.source_key, []).append(r.entry.id)
            for key, ids in by_source.items():
                stage.group(store, key, ids)
            batch = []
    store.close()


def write_floor(root: Path, files: int, size: int = 8000) -> float:
    """Seconds to create `files` files of `size` bytes in directories of ~30 (as the site does, with no
    rendering): what this machine's file system costs before any Python work."""
    from tidings.publish.site.manifest import write_file

    data = b"x" * size
    t0 = time.perf_counter()
    for i in range(files):
        write_file(f"{root}/{i // 30}/{i}.html", data)
    return time.perf_counter() - t0


def hexo_comparison(store_path: Path, tmp: Path) -> tuple[dict, list[tuple[str, dict]]]:
    """Write the items once as Hexo posts (tidings, seed preset) into the site `hexo init` makes, copy them into
    the test harness's minimal site, and time `hexo generate` in each (SPEC §8: the built-in site without search
    must be ≥ 30× faster). Returns the post-writing figures and, per site, hexo_site.generate's."""
    sys.path.insert(0, str(ROOT / "tests"))
    import hexo_harness
    import hexo_site

    from tidings.publish.hexo import build_posts
    from tidings.store import open_store

    sites = [("Hexo as `hexo init` makes it (landscape theme, + feed + sitemap)",
              hexo_site.make_site(tmp / "hexo-init")),
             ("Hexo, minimal test theme (lower bound)", hexo_harness.make_site(tmp / "hexo-minimal"))]
    store = open_store(store_path)
    t0 = time.perf_counter()
    report = build_posts(store, sites[0][1], preset="seed", clean=True, timezone="Asia/Shanghai")
    posts_s = time.perf_counter() - t0
    store.close()
    for _, site in sites[1:]:
        shutil.copytree(sites[0][1] / "source" / "_posts", site / "source" / "_posts", dirs_exist_ok=True)
    posts = {"posts": report.written, "posts_seconds": posts_s, "versions": hexo_site.versions()}
    return posts, [(name, hexo_site.generate(site)) for name, site in sites]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=5000, help="bytes of HTML per item (default 5000)")
    ap.add_argument("--days", type=float, default=30, help="the items span this many days (default 30)")
    ap.add_argument("--repeat", type=int, default=1, help="full builds per row (fastest reported; default 1)")
    ap.add_argument("--no-search", action="store_true", help="only the search-off rows")
    ap.add_argument("--no-cli", action="store_true", help="do not time Pagefind's CLI (long at 100,000 items)")
    ap.add_argument("--stories", action="store_true",
                    help="store items with keywords and story fingerprints, grouped (tag pages and stories on the site)")
    ap.add_argument("--hexo", action="store_true",
                    help="also time `hexo generate` on the same items, written once as posts, in two sites: as "
                         "`hexo init` makes it (landscape theme, + feed + sitemap; npm-installed once into "
                         "~/.cache/tidings-bench) and the test harness's minimal theme (lower bound)")
    ap.add_argument("--dir", help="make the store and sites in a temporary directory here (e.g. /dev/shm: "
                                  "tmpfs, no disk noise; default: the system's temp directory)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--search", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], env=USER_ENV, check=True,
                   stdout=subprocess.DEVNULL)
    from tidings.publish.site import pages, samples
    from tidings.publish.site import search as pf
    from tidings.store import open_store

    with tempfile.TemporaryDirectory(prefix="tidings-bench-site-", dir=args.dir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        if args.stories:
            fill_described(tmp / "bench.db", args.items, args.size, args.days * 24 * 60 / args.items)
        else:
            store = open_store(tmp / "bench.db")
            samples.fill(store, args.items, size=args.size, step_minutes=args.days * 24 * 60 / args.items, clean=True)
            store.close()
        print(f"generated {args.items} items of ~{args.size} B HTML (before cleaning) over {args.days:g} days "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        if hasattr(os, "sync"):
            os.sync()  # written-back inode tables: ext4 then skips freed inodes for 1 minute, not 6
        rows = []
        rows_cli: list[tuple[dict, dict]] = []
        for search in (False,) if args.no_search else (False, True):
            store_path = tmp / f"bench-{int(search)}.db"
            store_path.write_bytes((tmp / "bench.db").read_bytes())
            label = "search on" if search else "search off"
            fulls = [build(store_path, tmp / f"site-{int(search)}-{k}", search) for k in range(args.repeat)]
            best = min(range(len(fulls)), key=lambda k: fulls[k]["seconds"])
            out = tmp / f"site-{int(search)}-{best}"
            full = dict(fulls[best], spread=[r["seconds"] for r in fulls])
            rows.append((f"full build, {label}", full))
            rows.append((f"no-change build, {label}", build(store_path, out, search)))
            add_one(store_path, 10_000_000)
            rows.append((f"one new item, {label}", build(store_path, out, search)))
            add_one(store_path, 10_000_001)
            rows.append((f"one new item again, {label}", build(store_path, out, search)))
            if search and not args.no_cli:
                cli = pagefind_cli(out, tmp)
                rows_cli.append((full, cli))
            files = sum(1 for p in out.rglob("*") if p.is_file())
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
            print(f"{label}: {files} files, {size:.0f} MB", file=sys.stderr)

        print(f"\n`bench/site.py --items {args.items} --size {args.size}"
              f"{f' --repeat {args.repeat}' if args.repeat > 1 else ''}{f' --dir {args.dir}' if args.dir else ''}` "
              f"({os.cpu_count()} CPUs, Python "
              f"{sys.version.split()[0]}, {pages.WORKERS} page workers, {pf.version()}, shards of ≤ "
              f"{pf.SHARD_MAX} pages, {pf.WORKERS} Pagefind services)\n")
        print("| build | seconds | process wall (s) | of which search | CPU s, all processes | files written "
              "| shards indexed "
              "| peak RSS, build process (MB) | largest worker / Pagefind (MB) "
              "| peak RSS, build + workers + Pagefind (MB) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in rows:
            shards = f"{r['indexed']}/{r['shards']}" if r["shards"] else "–"
            secs = f"{r['seconds']:.2f}"
            if len(r.get("spread", [])) > 1:
                secs += f" ({'–'.join(f'{s:.1f}' for s in (min(r['spread']), max(r['spread'])))})"
            child = f"{r['child_mb']:.0f}" if r["child_mb"] else "–"
            print(f"| {name} | {secs} | {r['process_seconds']:.2f} | {r['search_seconds']:.2f} | {r['cpu']:.1f} "
                  f"| {r['written']} "
                  f"| {shards} | {r['rss_mb']:.0f} | {child} | {r['tree_mb']:.0f} |")
        for full, cli in rows_cli:
            print(f"\nSearch floor, same run: Pagefind's CLI (`pagefind --site … --glob 'a/**/*.html'`, one index of the "
                  f"same item pages, one whole process) took {cli['seconds']:.2f} s ({cli['rss_mb']:.0f} MB peak); the "
                  f"full build with search took {full['process_seconds']:.2f} s as a whole process ({full['seconds']:.2f} s "
                  f"inside the build, of which search {full['search_seconds']:.2f} s): "
                  f"**{full['process_seconds'] / cli['seconds']:.2f} ×** the CLI (SPEC §8: ≤ 1.2 ×).")
        files = next(r for name, r in rows if name.startswith("full build"))["written"]
        print(f"\nFile-system floor: creating {files} files of 8 KB (no rendering) took "
              f"{write_floor(tmp / 'floor', files):.2f} s.")
        if args.hexo:
            posts, hexos = hexo_comparison(tmp / "bench.db", tmp)
            full = next(r for name, r in rows if name == "full build, search off")
            best, slow, proc = full["seconds"], max(full["spread"]), full["process_seconds"]
            n = len(full["spread"])
            v = posts["versions"]
            print(f"\nHexo, same run (Hexo {v['hexo']}, hexo-theme-landscape {v['hexo-theme-landscape']}): tidings "
                  f"wrote {posts['posts']} posts once, in {posts['posts_seconds']:.2f} s, for both sites. Each "
                  f"`hexo generate` is one whole process; ratios are its seconds over tidings' full build, search "
                  f"off: {best:.2f} s{f' (best of {n}; slowest {slow:.2f} s)' if n > 1 else ''} inside the build, "
                  f"{proc:.2f} s as a whole process (Python start-up and imports included).\n")
            print("| Hexo site | seconds | peak RSS (MB) | files in public/ | of which *.html | ÷ tidings full build "
                  f"{f'| ÷ slowest of {n} ' if n > 1 else ''}| ÷ tidings whole process |")
            print(f"|---|---:|---:|---:|---:|---:|{'---:|' if n > 1 else ''}---:|")
            for name, h in hexos:
                ratios = [h["seconds"] / t for t in ([best, slow] if n > 1 else [best]) + [proc]]
                print(f"| {name} | {h['seconds']:.2f} | {h['rss_mb']:.0f} | {h['files']} | {h['pages']} | "
                      + " | ".join(f"{x:.1f}×" for x in ratios) + " |")


if __name__ == "__main__":
    main()
