"""The built-in site at a million items (SPEC §8: a full build, search off, ≤ 3 min and ≤ 1 GB peak RSS for the
whole process tree). Outside `make test`: it needs ~5 GB for the store and ~13 GB for the site.

    .venv/bin/python bench/site_million.py --store /work/tmp1m/s1m.db --out /dev/shm/site1m [--base 100000]

Generates --base items of ~--size bytes of HTML as bench/site.py does (through the cleaner), then copies every item nine more times
by SQL, each copy with its own id and published 30 days before the one above it (300 days of news), so the
million items cost minutes to make instead of an hour. Then one full build in its own process, timed and
sampled as bench/site.py does (whole process; peak of the summed RSS of the build and its page workers).
The store may live on disk (the build reads it once); the site should be on tmpfs (SPEC §8).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def make(store: Path, base: int, copies: int, size: int) -> None:
    from tidings.publish.site import samples
    from tidings.store import open_store

    s = open_store(store)
    samples.fill(s, base, size=size, step_minutes=30 * 24 * 60 / base, clean=True)
    s.close()
    db = sqlite3.connect(store)
    cols = [r[1] for r in db.execute("PRAGMA table_info(items)")]
    shifted = ("published", "first_seen", "last_seen")
    select = ", ".join("id || '-c' || ?" if c == "id" else f"{c} - ? * 30 * 86400" if c in shifted
                       else "NULL" if c == "story" else c for c in cols)
    with db:
        for k in range(1, copies):
            args = [k for c in cols if c == "id" or c in shifted]
            db.execute(f"INSERT INTO items({', '.join(cols)}) SELECT {select} FROM items WHERE id NOT LIKE '%-c%'",
                       args)
        db.execute("DELETE FROM site_changes")  # a first build reads none of it
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="SQLite store to make (kept if it exists)")
    ap.add_argument("--out", required=True, help="output directory (emptied first)")
    ap.add_argument("--base", type=int, default=100_000, help="items generated before copying (default 100,000)")
    ap.add_argument("--copies", type=int, default=10, help="the base items this many times in all (default 10)")
    ap.add_argument("--size", type=int, default=2000, help="bytes of HTML per item before cleaning (default 2000)")
    args = ap.parse_args()
    store, out = Path(args.store), Path(args.out)
    if not store.exists():
        t0 = time.perf_counter()
        make(store, args.base, args.copies, args.size)
        print(f"made {args.base * args.copies} items in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    spec = importlib.util.spec_from_file_location("bench_site", ROOT / "bench" / "site.py")
    assert spec is not None and spec.loader is not None
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    from tidings.store import open_store

    with open_store(store) as s:  # a full build into a new directory: no record of an earlier one
        for name in s.site_names():
            s.forget_site(name)
    r = site.build(store, out, False)
    print(json.dumps(r))
    print(f"\n| items | full build, search off (s, whole process) | CPU s, all processes | files | peak RSS, "
          f"build + workers (MB) | build process (MB) |\n|---:|---:|---:|---:|---:|---:|\n"
          f"| {args.base * args.copies:,} | {r['process_seconds']:.0f} | {r['cpu']:.0f} | {r['written']:,} "
          f"| {r['tree_mb']:.0f} | {r['rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
