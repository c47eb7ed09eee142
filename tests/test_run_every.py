"""`tidings run --every`: repeats, and SIGTERM finishes the current cycle cleanly (on both store backends)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from feedserver import rss
from util import posts, store_rows, store_value, write_config


def test_sigterm_during_run_every_leaves_store_and_posts_consistent(tmp_path, store_at, server):
    items = [{"title": f"S{i}", "guid": f"g{i}", "pubDate": "Mon, 14 Mar 2022 06:22:47 GMT",
              "description": "<p>x</p>"} for i in range(30)]
    # a slow feed keeps the first cycle busy when the signal arrives
    url = server.add("/slow", rss(items), delay=1.0)
    fast = server.add("/fast", rss([{"title": "F", "guid": "f"}]))
    cfg = write_config(tmp_path, [{"category": "c", "source": "slow", "url": url, "limit": 30},
                                  {"category": "c", "source": "fast", "url": fast}], store=store_at)
    proc = subprocess.Popen([sys.executable, "-m", "tidings.cli", "run", "--every", "2s", "-c", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    deadline = time.time() + 20
    while server.hits["/slow"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # mid-fetch of the first cycle
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "finishing the current cycle" in err
    assert "31 new items" in out  # the cycle in progress completed
    assert out.count("done in") == 1  # and no further cycle started
    if not store_at.startswith("postgresql:"):
        assert store_rows(store_at, "pragma integrity_check") == [("ok",)]
    published = store_value(store_at, "select count(*) from items where state = 'published'")
    assert published == 31 == len(posts(tmp_path))
    assert store_value(store_at, "select count(*) from posts") == 31
    assert not list(tmp_path.rglob(".tidings-tmp-*"))


def test_every_rejects_a_bad_duration(tmp_path, capsys):
    from util import cli
    cfg = write_config(tmp_path, [])
    assert cli("run", "--every", "soon", "-c", cfg) == 2
    assert "not a duration" in capsys.readouterr().err
