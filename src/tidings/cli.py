"""Command line: parses arguments and dispatches. Display and summary are in display.py, the work in pipeline.py."""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from . import __version__
from .display import EXIT_BUG, EXIT_OK, EXIT_USAGE, Display, log, summary
from .errors import ConfigError, LockBusy, SearchIndexError, StoreFormatError, StoreVersionError, UsageError

if TYPE_CHECKING:
    from .config import Config

# Only the standard library and light modules of ours at the top: each command imports what it needs, so
# `--help` loads no pydantic or YAML and `build` no fetch/clean stack (tests/test_startup.py, docs/benchmarks.md).

# --- commands ---------------------------------------------------------------------------------------

def _config(args: argparse.Namespace) -> Config:
    from .config import load

    return load(args.config)


def cmd_init(args: argparse.Namespace) -> int:
    from .config import INIT_TEMPLATE

    target = Path(args.dir or ".") / "tidings.yml"
    if target.exists() and not args.force:
        raise UsageError(f"{target} already exists (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(INIT_TEMPLATE, encoding="utf-8")
    print(f"wrote {target}; edit its sources, then run `tidings run -c {target}`")
    return EXIT_OK


def _run_once(cfg: Config, args: argparse.Namespace, *, do_fetch: bool = True, do_build: bool = True,
              interval: float | None = None) -> int:
    from .pipeline import run

    display = Display(args.quiet)
    try:
        report = run(cfg, do_fetch=do_fetch, do_build=do_build, progress=display,
                     force=getattr(args, "force", False), interval=interval, full=getattr(args, "full", False))
    finally:
        display.stop()
    print(summary(report, cfg))
    return report.exit_code


def cmd_fetch(args: argparse.Namespace) -> int:
    return _run_once(_config(args), args, do_build=False)


def cmd_build(args: argparse.Namespace) -> int:
    return _run_once(_config(args), args, do_fetch=False)


def parse_interval(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise UsageError(f"--every: not a duration: {text!r} (use 30m, 1h, 90s)")
    return float(m.group(1)) * {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not args.every:
        return _run_once(cfg, args)
    interval = parse_interval(args.every)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log(f"received {signal.Signals(signum).name}: finishing the current cycle, then stopping")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    code = EXIT_OK
    while not stop.is_set():
        started = time.monotonic()
        # re-read: the operator may edit sources between cycles
        code = _run_once(_config(args), args, interval=interval)
        wait = max(0.0, interval - (time.monotonic() - started))
        if not stop.is_set():
            log(f"next run in {wait:.0f} s")
        stop.wait(wait)
    return code


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not cfg.site_dir:
        raise UsageError("serve: no `site_dir` in the configuration, so there is no site to serve")
    from .publish.site import serve

    serve(cfg.resolve(cfg.site_dir), port=args.port)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.dir), quiet=args.quiet)


def cmd_worker(args: argparse.Namespace) -> int:
    from .worker import check_store, run_worker

    check_store(_config(args))  # a SQLite store: exit 2 before anything starts
    if args.concurrency < 1:
        raise UsageError("worker: --concurrency must be at least 1")
    # One line per job (tidings.worker at INFO); procrastinate's own lines only from warnings up.
    logging.getLogger("tidings.worker").setLevel(logging.INFO)
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:  # a long-running process: its lines need a time
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    run_worker(args.config, concurrency=args.concurrency, publish=args.publish)
    return EXIT_OK


def cmd_items(args: argparse.Namespace) -> int:
    from . import items_cmd

    return items_cmd.main(args)


def cmd_sources(args: argparse.Namespace) -> int:
    from . import sources_cmd

    return sources_cmd.main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidings", description="Turn news feeds into Hexo posts and a static news site.")
    p.add_argument("--version", action="version", version=f"tidings {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="tidings.yml", help="configuration file (default ./tidings.yml)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="write a commented tidings.yml")
    s.add_argument("dir", nargs="?", help="directory for tidings.yml (default: here)")
    s.add_argument("--force", action="store_true", help="overwrite an existing tidings.yml")
    s.set_defaults(func=cmd_init)
    s = sub.add_parser("fetch", parents=[common], help="fetch the sources that are due and store new items")
    s.add_argument("--force", action="store_true", help="fetch every source now, whatever its schedule")
    s.set_defaults(func=cmd_fetch)
    s = sub.add_parser("build", parents=[common], help="write Hexo posts and the built-in site")
    s.add_argument("--full", action="store_true",
                   help="check every file of the built-in site (restores files deleted or edited by hand), "
                        "not only what changed since the last build")
    s.set_defaults(func=cmd_build)
    s = sub.add_parser("run", parents=[common], help="fetch, then build (the main job)")
    s.add_argument("--every", help="repeat every interval (30m, 1h, 90s) until stopped")
    s.add_argument("--force", action="store_true", help="fetch every source now, whatever its schedule")
    s.set_defaults(func=cmd_run)
    s = sub.add_parser("serve", parents=[common], help="serve the built site on 127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("worker", parents=[common],
                       help="take fetch (and with --publish, build) jobs from the PostgreSQL queue until SIGTERM")
    s.add_argument("--concurrency", type=int, default=8, help="jobs at once in this process (default 8)")
    s.add_argument("--publish", action="store_true",
                   help="also take build jobs: write Hexo posts and the site on this machine")
    s.set_defaults(func=cmd_worker)
    s = sub.add_parser("items", parents=[common], help="every published item, newest first")
    s.add_argument("--json", action="store_true", help="one JSON object a line: id, source, category, title, "
                   "link, published, story, tags")
    s.add_argument("--since", help="only items published at or after this date (ISO 8601; UTC when no offset)")
    s.add_argument("--source", help="only the items of the source with this feed URL")
    s.set_defaults(func=cmd_items)
    s = sub.add_parser("demo", help="the whole pipeline on bundled sample feeds, offline")
    s.add_argument("dir", nargs="?", default="tidings-demo", help="output directory (default ./tidings-demo)")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_demo)
    s = sub.add_parser("sources", help="list, check, import and export sources")
    actions = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, what in (("list", "the configured sources and their health"),
                       ("check", "health table: ok / failing / stale (exit 3 when a source is failing)")):
        a = actions.add_parser(name, parents=[common], help=what)
        a.add_argument("--json", action="store_true", help="machine-readable output")
    a = actions.add_parser("import", parents=[common],
                           help="add sources from RSSHub docs, /api/namespace, OPML or a feed URL")
    a.add_argument("location", help="file or http(s) URL: RSSHub docs Markdown, /api/namespace JSON, OPML, or a feed")
    a.add_argument("--category", help="only sources of this category (金融, finance and Finance are one)")
    a.add_argument("--route", help="only routes at or below this path (/sina keeps /sina/finance)")
    a.add_argument("--lang", choices=["zh", "en"],
                   help="names in this language where the input has both (/api/namespace: zh by default; "
                        "docs pages: the page's own language)")
    a.add_argument("--dry-run", action="store_true", help="show what would be added, write nothing")
    a = actions.add_parser("export", parents=[common], help="write the sources as OPML")
    a.add_argument("-o", "--output", help="write OPML here (default stdout)")
    s.set_defaults(func=cmd_sources)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, UsageError, LockBusy, StoreVersionError, StoreFormatError, SearchIndexError) as e:
        print(f"tidings: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tidings: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tidings items | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        # Disk full, read-only output, a path blocked by a file: name the path and the reason. What was
        # written is recorded; the rest is written by the next run.
        where = f" {e.filename}" if e.filename else ""
        print(f"tidings: cannot write{where}: {e.strerror or e}", file=sys.stderr)
        return EXIT_BUG
    except Exception as e:  # noqa: BLE001 - the promised exit 1 with a bug report
        traceback.print_exc()
        print(f"tidings: unexpected error (a bug, please report it): {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
