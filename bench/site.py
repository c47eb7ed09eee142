"""Benchmark of the built-in site (SPEC §8): full, no-change and one-new-item builds, search off and on.

    .venv/bin/python bench/site.py --items 10000 [--size 5000] [--hexo]

Generates N items (≈ --size bytes of HTML each, Chinese and English, shaped like the seed's Sina article)
into a temporary store, then runs each build in its own subprocess and reports its time (measured
inside the build) and peak RSS: of the build process (VmHWM) and of the largest Pagefind process it ran
(GNU time, through PAGEFIND_BINARY_PATH). Pagefind runs WORKERS at a time, so the machine-wide peak is
at most build + WORKERS × that. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _child(args: argparse.Namespace) -> None:
    """Run one build in this process and print its figures as JSON."""
    from tidings.publish.site import SiteConfig, build_site
    from tidings.store import Store

    store = Store(args.store)
    cfg = SiteConfig(title="资讯聚合", url="https://news.example.com/", timezone="Asia/Shanghai", language="zh-CN",
                     search=args.search)
    t0 = time.perf_counter()
    report = build_site(store, cfg, Path(args.out))
    wall = time.perf_counter() - t0
    store.close()
    me = _vm_hwm()
    kids = max((float(x) / 1024 for x in Path(args.pagefind_log).read_text().split()), default=0.0) \
        if args.pagefind_log and Path(args.pagefind_log).exists() else 0.0
    print(json.dumps({"seconds": wall, "search_seconds": report.search_seconds, "written": report.written,
                      "unchanged": report.unchanged, "deleted": report.deleted, "shards": report.search_shards,
                      "indexed": report.search_indexed, "rss_mb": me, "pagefind_rss_mb": kids}))


def _vm_hwm() -> float:
    """Peak RSS of this process in MB. (ru_maxrss is no good here: Linux carries the parent's peak
    across fork + exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pagefind_wrapper(tmp: Path) -> tuple[Path, Path] | None:
    """A pagefind that logs its own peak RSS (via GNU time), picked up through PAGEFIND_BINARY_PATH."""
    if not Path("/usr/bin/time").exists():
        return None
    from pagefind.service import get_executable

    log, wrapper = tmp / "pagefind-rss.log", tmp / "pagefind-wrapper.sh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o "{log}" -f %M "{get_executable()}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def build(store: Path, out: Path, search: bool, wrap: tuple[Path, Path] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--store", str(store), "--out", str(out)]
    if search:
        cmd.append("--search")
    env = dict(os.environ)
    if wrap:
        env["PAGEFIND_BINARY_PATH"] = str(wrap[0])
        wrap[1].unlink(missing_ok=True)
        cmd += ["--pagefind-log", str(wrap[1])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode:
        raise SystemExit(f"build failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def add_one(store_path: Path, k: int) -> None:
    from tidings.publish.site import samples
    from tidings.store import Store

    store = Store(store_path)
    newest = next(store.iter_items())
    src = next(s for s in samples.make_sources() if s.key == newest.source_key)
    store.upsert_entries([samples.entry(src, k, newest.published + timedelta(minutes=3), random.Random(k), size=5000)])
    store.close()


def write_floor(tmp: Path, files: int, size: int = 8000) -> float:
    """Seconds to write `files` files of `size` bytes the way the site does (temp file + rename, ~30 per
    directory), with no rendering: what this machine's file system costs before any Python work."""
    from tidings.publish.site.manifest import atomic_write

    root, data, dirs = tmp / "floor", b"x" * size, set()
    t0 = time.perf_counter()
    for i in range(files):
        atomic_write(root / str(i // 30) / f"{i}.html", data, dirs)
    return time.perf_counter() - t0


def hexo_comparison(store_path: Path, tmp: Path) -> dict:
    """Time `hexo generate` on the same items, written as posts by tidings (SPEC §8: the built-in site
    without search must be ≥ 30× faster). Uses the test harness's Hexo (npm, cached) and minimal theme."""
    sys.path.insert(0, str(ROOT / "tests"))
    from hexo_harness import ensure_hexo, make_site

    from tidings.publish.hexo import build_posts
    from tidings.store import Store

    ensure_hexo()
    site = make_site(tmp / "hexo-site")
    store = Store(store_path)
    t0 = time.perf_counter()
    report = build_posts(store, site, preset="seed", clean=True, timezone="Asia/Shanghai")
    posts_s = time.perf_counter() - t0
    store.close()
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    cmd = timer + ["node", str(site / "node_modules" / "hexo" / "bin" / "hexo"), "generate"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=site, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"hexo generate failed:\n{proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1]) if timer else 0
    pages = sum(1 for _ in (site / "public").rglob("*.html"))
    return {"posts": report.written, "posts_seconds": posts_s, "seconds": seconds, "rss_mb": rss_kb / 1024,
            "pages": pages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=5000, help="bytes of HTML per item (default 5000)")
    ap.add_argument("--days", type=float, default=30, help="the items span this many days (default 30)")
    ap.add_argument("--hexo", action="store_true", help="also time hexo generate on the same items")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--search", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pagefind-log", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)

    from tidings.publish.site import samples
    from tidings.store import Store

    with tempfile.TemporaryDirectory(prefix="tidings-bench-site-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        store = Store(tmp / "bench.db")
        samples.fill(store, args.items, size=args.size, step_minutes=args.days * 24 * 60 / args.items)
        store.close()
        print(f"generated {args.items} items of ~{args.size} B HTML over {args.days:g} days "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        rows = []
        wrap = _pagefind_wrapper(tmp)
        for search in (False, True):
            store_path = tmp / f"bench-{int(search)}.db"
            store_path.write_bytes((tmp / "bench.db").read_bytes())
            out = tmp / f"site-{int(search)}"
            label = "search on" if search else "search off"
            rows.append((f"full build, {label}", build(store_path, out, search, wrap)))
            rows.append((f"no-change build, {label}", build(store_path, out, search, wrap)))
            add_one(store_path, 10_000_000)
            rows.append((f"one new item, {label}", build(store_path, out, search, wrap)))
            files = sum(1 for p in out.rglob("*") if p.is_file())
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
            print(f"{label}: {files} files, {size:.0f} MB", file=sys.stderr)
        from tidings.publish.site import search as pf

        print(f"\n`bench/site.py --items {args.items} --size {args.size}` ({os.cpu_count()} CPUs, Python "
              f"{sys.version.split()[0]}, {pf.version()}, shards of ≤ {pf.SHARD_MAX} pages, "
              f"{pf.WORKERS} Pagefind runs at a time)\n")
        print("| build | seconds | of which search | files written | shards indexed | peak RSS build (MB) "
              "| peak RSS of one pagefind (MB) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, r in rows:
            shards = f"{r['indexed']}/{r['shards']}" if r["shards"] else "–"
            pf = f"{r['pagefind_rss_mb']:.0f}" if r["indexed"] else "–"
            print(f"| {name} | {r['seconds']:.2f} | {r['search_seconds']:.2f} | {r['written']} | {shards} "
                  f"| {r['rss_mb']:.0f} | {pf} |")
        files = next(r for name, r in rows if name.startswith("full build"))["written"]
        print(f"\nFile-system floor: writing {files} files of 8 KB (temp file + rename, no rendering) takes "
              f"{write_floor(tmp, files):.2f} s on this machine.")
        if args.hexo:
            h = hexo_comparison(tmp / "bench.db", tmp)
            ours = next(r for name, r in rows if name == "full build, search off")["seconds"]
            print(f"\nHexo, same run: tidings wrote {h['posts']} posts in {h['posts_seconds']:.2f} s; "
                  f"`hexo generate` (Hexo 8, minimal theme) took {h['seconds']:.1f} s, peak RSS {h['rss_mb']:.0f} MB, "
                  f"{h['pages']} pages.\n\n| | seconds | ratio |\n|---|---:|---:|\n"
                  f"| hexo generate | {h['seconds']:.2f} | 1× |\n"
                  f"| tidings site, full build, search off | {ours:.2f} | {h['seconds'] / ours:.1f}× faster |")


if __name__ == "__main__":
    main()
