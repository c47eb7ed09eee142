"""What a full build of the built-in site reads from the store before and during its pass, query by query.

    .venv/bin/python bench/site_reads.py STORE [--repeat 3]

In one read snapshot, as a full build does: `site_counts` (items per node and per day), `stories`, `tag_counts(1)`
and the stream of every published item with its body (`iter_site_items("utf-8")`). Prints wall and CPU seconds
of each (CPU of this process: the store is SQLite, in process). Run on a copy of a store: opening it migrates it.
To compare with an older tidings, copy this file into its tree and run it there (each tree reads the store with
its own queries; a store migrated by a newer tidings cannot be opened by an older one, so give each its copy).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from tidings.store import open_store

    store = open_store(args.store)
    tz = ZoneInfo("Asia/Shanghai")
    reads: list[tuple[str, Callable[[], Any]]] = [
        ("site_counts", lambda: store.site_counts(tz, None)),
        ("stories", store.stories),
        ("tag_counts", lambda: store.tag_counts(1)),
        ("stream", lambda: sum(1 for _ in store.iter_site_items("utf-8"))),
    ]
    print(f"{ROOT}: {args.store}")
    for k in range(args.repeat):
        cells = []
        with store.snapshot():
            for name, read in reads:
                t, c = time.perf_counter(), time.process_time()
                read()
                cells.append(f"{name} {time.perf_counter() - t:.3f} s ({time.process_time() - c:.3f} CPU)")
        print(f"run {k + 1}: " + ", ".join(cells), flush=True)
    store.close()


if __name__ == "__main__":
    main()
