"""Full builds of one store by two checkouts of tidings, alternating: CPU and wall of each, and their ratio.

    env -u PYTHONDONTWRITEBYTECODE .venv/bin/python bench/site_ab.py --old /tmp/wt-old --new . \\
        --store /dev/shm/x/s10k.db --dir /dev/shm/x [--pairs 5] [--make 10000 [--stories]] [--diff]

Each build is a process of its own importing its checkout's `src` (bench/site.py's settings), search off, into a fresh
output directory, the store's site records forgotten first (so it is a full build, and the store does not
grow). The machine may be shared: old and new run one after the other, in turns (which goes first alternates),
so each pair's ratio comes from the same minute. With --make N the store is made first if it is not there
(bench/site.py's items; with --stories, described and grouped, so stories and tag pages). With --diff, the
last pair's two sites are compared with `diff -r` (they must be the same, byte for byte).

The store is made and its site records forgotten by this script's own checkout, which migrates it to its
schema: an --old checkout from before that schema version cannot open it (StoreVersionError). Compare such
trees on copies of the store made by each (bench/site_reads.py says the same).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.argv[1:2] != ["--child"]:  # (a build's child puts its own checkout's src first)
    sys.path.insert(0, str(ROOT / "src"))
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _site_module():  # bench/site.py, for fill_described
    spec = importlib.util.spec_from_file_location("bench_site", ROOT / "bench" / "site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(store: Path, n: int, stories: bool) -> None:
    from tidings.publish.site import samples
    from tidings.store import open_store

    if stories:
        _site_module().fill_described(store, n, 5000, 30 * 24 * 60 / n)
        return
    s = open_store(store)
    samples.fill(s, n, size=5000, step_minutes=30 * 24 * 60 / n, clean=True)
    s.close()


def forget(store: Path) -> None:
    from tidings.store import open_store

    with open_store(store) as s:
        for name in s.site_names():
            s.forget_site(name)


def child(tree: str, store: str, out: str) -> None:
    """One full build by the checkout at `tree`, in this process; its figures as JSON (as bench/site.py's)."""
    sys.path.insert(0, str(Path(tree) / "src"))
    from tidings.publish.site import SiteConfig, build_site, generators
    from tidings.store import open_store

    # The build process's CPU inside Listings._page (fingerprint, render, cards, hash, write): the listing pages.
    listing = [0.0, 0]
    page = generators.Listings._page

    def timed(*args: object, **kwargs: object) -> None:
        t = time.thread_time()
        page(*args, **kwargs)  # type: ignore[arg-type]  # the same arguments, passed through
        listing[0] += time.thread_time() - t
        listing[1] += 1

    generators.Listings._page = timed  # type: ignore[method-assign]  # this process only, for the figure
    s = open_store(store)
    cfg = SiteConfig(title="资讯聚合", url="https://news.example.com/", timezone="Asia/Shanghai", language="zh-CN",
                     search=False)
    t0 = time.perf_counter()
    build_site(s, cfg, Path(out))
    wall = time.perf_counter() - t0
    s.close()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    import tidings

    print(json.dumps({"seconds": wall, "cpu_build": me.ru_utime + me.ru_stime, "code": tidings.__file__,
                      "listing_cpu": listing[0], "listing_calls": listing[1],
                      "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}))


def build(tree: Path, store: Path, out: Path) -> dict:
    forget(store)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(tree), str(store), str(out)],
                          capture_output=True, text=True, env=USER_ENV)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"build in {tree} failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["process_seconds"] = wall
    return r


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(*sys.argv[2:5])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="checkout of the code before")
    ap.add_argument("--new", required=True, help="checkout of the code after")
    ap.add_argument("--store", required=True)
    ap.add_argument("--dir", required=True, help="where the sites go (e.g. on /dev/shm)")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--make", type=int, default=0, help="make a store of this many items if there is none")
    ap.add_argument("--stories", action="store_true", help="with --make: stories and tags")
    ap.add_argument("--diff", action="store_true", help="diff -r the last pair's sites")
    args = ap.parse_args()
    store, base = Path(args.store), Path(args.dir)
    trees = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    if not store.exists():
        if not args.make:
            raise SystemExit(f"no store at {store} (--make N makes one)")
        make(store, args.make, args.stories)
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "src")], env=USER_ENV, check=True,
                       stdout=subprocess.DEVNULL)
    rows: dict[str, list[dict]] = {"old": [], "new": []}
    for k in range(args.pairs):
        for name in ("old", "new") if k % 2 == 0 else ("new", "old"):
            r = build(trees[name], store, base / f"site-{name}")
            r["load"] = os.getloadavg()[0]
            assert r["code"].startswith(str(trees[name])), r["code"]
            rows[name].append(r)
            print(f"pair {k + 1} {name}: {r['cpu']:.2f} CPU-s ({r['cpu_build']:.2f} the build process, "
                  f"{r['listing_cpu']:.2f} in {r['listing_calls']} listing pages), "
                  f"{r['process_seconds']:.2f} s wall, "
                  f"load {r['load']:.1f}, {time.strftime('%H:%M:%S')}", file=sys.stderr)
    forget(store)
    cpu = [n["cpu"] / o["cpu"] for o, n in zip(rows["old"], rows["new"])]
    wall = [n["process_seconds"] / o["process_seconds"] for o, n in zip(rows["old"], rows["new"])]
    own = [n["cpu_build"] / o["cpu_build"] for o, n in zip(rows["old"], rows["new"])]
    lists = [n["listing_cpu"] / o["listing_cpu"] for o, n in zip(rows["old"], rows["new"])]
    print("| pairs | CPU s, old (median) | new (median) | new ÷ old, CPU: median (range) "
          "| wall s, old / new (median) | new ÷ old, wall: median (range) |")
    print("|---:|---:|---:|---:|---:|---:|")
    med = statistics.median
    print(f"| {args.pairs} | {med(r['cpu'] for r in rows['old']):.2f} | {med(r['cpu'] for r in rows['new']):.2f} "
          f"| {med(cpu):.3f} ({min(cpu):.3f}–{max(cpu):.3f}) "
          f"| {med(r['process_seconds'] for r in rows['old']):.2f} / "
          f"{med(r['process_seconds'] for r in rows['new']):.2f} "
          f"| {med(wall):.3f} ({min(wall):.3f}–{max(wall):.3f}) |")
    print(f"\nthe build process alone, CPU s: old {med(r['cpu_build'] for r in rows['old']):.2f}, "
          f"new {med(r['cpu_build'] for r in rows['new']):.2f}; new ÷ old {med(own):.3f} ({min(own):.3f}–{max(own):.3f})")
    print(f"listing pages (Listings._page, thread CPU s): old {med(r['listing_cpu'] for r in rows['old']):.2f}, "
          f"new {med(r['listing_cpu'] for r in rows['new']):.2f}; new ÷ old {med(lists):.3f} "
          f"({min(lists):.3f}–{max(lists):.3f})")
    if args.diff:
        same = subprocess.run(["diff", "-r", "-q", "-x", ".tidings-site", str(base / "site-old"),
                               str(base / "site-new")], capture_output=True, text=True)
        print("diff -r: " + ("the same" if same.returncode == 0 else f"DIFFERENT\n{same.stdout[:2000]}"))


if __name__ == "__main__":
    main()
