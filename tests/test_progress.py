"""Long work shows a progress bar on a terminal and plain log lines otherwise (SPEC §3); on SQLite and PostgreSQL
(store_at)."""
import os
import pty
import subprocess
import sys
from pathlib import Path

from feedserver import rss
from util import write_config

SRC = str(Path(__file__).parents[1] / "src")


def _feeds(server, n=6):
    return [{"category": "c", "source": f"s{i}", "url": server.add(f"/f{i}", rss([{"title": f"t{i}", "guid": str(i)}]),
                                                                    delay=0.3)} for i in range(n)]


def test_progress_bar_on_a_terminal(tmp_path, store_at, server):
    cfg = write_config(tmp_path, _feeds(server), store=store_at)
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "tidings.cli", "run", "-c", str(cfg)], stdin=follower,
                            stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, screen
    assert "fetching" in screen and "━" in screen  # rich's bar
    assert "6 sources: 6 fetched" in screen


def test_plain_log_lines_when_not_a_terminal(tmp_path, store_at, server):
    cfg = write_config(tmp_path, _feeds(server, 3), store=store_at)
    proc = subprocess.run([sys.executable, "-m", "tidings.cli", "run", "-c", str(cfg)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=30)
    assert proc.returncode == 0
    assert "━" not in proc.stderr and "\x1b[" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " new " in line or "new  " in line]
    assert len(lines) == 3 and all("c › s" in line and "1 new, 0 changed" in line for line in lines)


def test_quiet_run_prints_only_the_summary_and_where_things_went(tmp_path, store_at, server):
    cfg = write_config(tmp_path, _feeds(server, 2), site_dir="public", store=store_at)
    proc = subprocess.run([sys.executable, "-m", "tidings.cli", "run", "-q", "-c", str(cfg)], check=False,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no per-source lines, no stage lines
    out = proc.stdout.splitlines()
    assert out[0].startswith("2 sources: 2 fetched")
    assert f"hexo posts: 2 written, 0 unchanged, 0 deleted in {tmp_path / 'blog' / 'source' / '_posts'}" in out
    site = [line for line in out if line.startswith("site: ")]
    assert len(site) == 1 and site[0].endswith(f" in {tmp_path / 'public'}") and " 0 files written" not in site[0]


def test_a_recovered_feed_is_noted_once_in_the_summary(tmp_path, store_at, server):
    """What parsing recovered is a warning in run's summary, not also a log line on stderr (-q or not)."""
    url = server.add("/amp.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                     b"<link>http://x/</link><item><title>A & B</title><link>http://x/1</link></item></channel></rss>")
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    proc = subprocess.run([sys.executable, "-m", "tidings.cli", "run", "-q", "-c", str(cfg)], check=False,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("repaired malformed XML") == 1, proc.stdout
