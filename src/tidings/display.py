"""What the commands show: progress, the run summary and exit codes.

Shared by cli, sources_cmd and demo; it sits below all three so that none of them imports another.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .pipeline import RunReport

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_SOURCES_FAILED = 0, 1, 2, 3


class Display:
    """A rich progress bar on a terminal; plain log lines otherwise (cron, CI, pipes)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, event: str, **d: Any) -> None:
        if self.quiet:
            return
        if event == "start":
            self.stop()
            label = {"fetch": "fetching", "hexo": "hexo posts", "site": "site"}.get(d["stage"], d["stage"])
            if self.tty:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                self._progress = Progress(TextColumn(f"{label:10}"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), TextColumn("{task.description}"), transient=True)
                self._progress.start()
                self._task = self._progress.add_task("", total=d.get("total"))
            elif d["stage"] == "fetch":
                log(f"fetching {d['total']} sources")
            else:
                log(f"building {label}")
        elif event == "source":
            from .model import OutcomeStatus  # here, not at the top: `tidings --help` needs none of the model

            o = d["outcome"]
            if self._progress is not None:
                self._progress.update(self._task, advance=1, description=o.source.label[:60])
            else:
                detail = o.reason if o.status == OutcomeStatus.FAILED else f"{o.new} new, {o.changed} changed"
                log(f"{o.status:12} {o.source.label} — {detail}")
        elif event == "step" and self._progress is not None:
            self._progress.update(self._task, completed=d["done"], total=d["total"], description=d.get("what", ""))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def summary(report: RunReport, cfg: Config | None = None) -> str:
    """The run's figures; with `cfg`, also where the Hexo posts and the site were written."""
    from .model import OutcomeStatus

    outcomes = report.outcomes
    lines = []
    if outcomes:
        nm = sum(o.status == OutcomeStatus.NOT_MODIFIED for o in outcomes)
        waiting = sum(o.status in (OutcomeStatus.WAITING, OutcomeStatus.BACKOFF) for o in outcomes)
        fetched = sum(o.status in (OutcomeStatus.NEW, OutcomeStatus.FAILED) for o in outcomes)
        lines.append(f"{len(outcomes)} sources: {fetched} fetched, {nm} not modified, {waiting} not due yet, "
                     f"{len(report.failed)} failing; {report.new} new items, {report.changed} changed"
                     + (f", {report.filtered} filtered out" if report.filtered else ""))
    if report.hexo is not None:
        h = report.hexo
        where = f" in {cfg.resolve(cfg.hexo.dir) / 'source' / '_posts'}" if cfg is not None and cfg.hexo else ""
        lines.append(f"hexo posts: {h.written} written, {h.unchanged} unchanged, {h.deleted} deleted{where}")
    if report.site is not None:
        s = report.site
        where = f" in {cfg.resolve(cfg.site_dir)}" if cfg is not None and cfg.site_dir else ""
        lines.append(f"site: {s.written} files written, {s.unchanged} unchanged, {s.deleted} deleted{where}")
    notes = [(o, n) for o in outcomes for n in o.notes]
    if notes:
        lines.append("warnings:")
        lines += [f"  ! {o.source.label}: {n}" for o, n in notes]
    if report.failed:
        lines.append("failed sources:")
        lines += [f"  ✗ {o.source.label} <{o.source.url}>: {o.reason}" for o in report.failed]
    lines.append(f"done in {report.seconds:.1f} s")
    return "\n".join(lines)
