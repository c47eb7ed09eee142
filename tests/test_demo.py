"""`tidings demo`: the whole pipeline on the bundled feeds, offline, and a second run changes nothing. On both
store backends: the demo's own SQLite file, or a PostgreSQL database through TIDINGS_STORE."""
import json

import pytest
from util import cli, snapshot


@pytest.fixture(autouse=True)
def _demo_store(store_at, monkeypatch):
    if store_at.startswith("postgresql:"):
        monkeypatch.setenv("TIDINGS_STORE", store_at)


def test_demo_builds_posts_and_site_and_is_idempotent(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli("demo", out) == 0
    printed = capsys.readouterr().out
    assert "9 sources: 9 fetched" in printed and "75 new items" in printed
    assert f"serve -c {out / 'tidings.yml'}" in printed
    posts = list((out / "blog" / "source" / "_posts").rglob("*.md"))
    assert len(posts) == 75
    assert {p.relative_to(out / "blog" / "source" / "_posts").parts[0] for p in posts} == {"金融", "科技", "国际"}
    site = out / "public"
    assert (site / "index.html").is_file() and (site / "_pagefind").is_dir()
    assert len(json.loads((site / "feed.json").read_text(encoding="utf-8"))["items"]) == 20
    assert any(p.suffix == ".svg" for p in (site / "demo-media").iterdir())
    # 第一财经 reposts a 新浪财经 story under another headline: one story, "also reported by" on the first
    stories = [p for p in (site / "a").rglob("*.html") if '<section class="story"' in p.read_text("utf-8")]
    assert len(stories) == 1 and "临澜稳外贸“十二条”落地" in stories[0].read_text("utf-8")
    covers = sum("headimg: ''" not in p.read_text(encoding="utf-8") for p in posts)
    assert covers >= 12
    before = snapshot(out / "blog")
    assert cli("demo", out) == 0
    assert "0 new items" in capsys.readouterr().out
    assert snapshot(out / "blog") == before


def test_build_full_restores_files_deleted_by_hand(tmp_path, capsys):
    """`tidings build` follows the store's changes and trusts the output directory; `--full` checks every file."""
    out = tmp_path / "demo"
    assert cli("demo", out) == 0
    site = out / "public"
    page = next((site / "a").rglob("*.html"))
    page.unlink()
    (site / "rss.xml").unlink()
    cfg = str(out / "tidings.yml")
    assert cli("build", "-q", "-c", cfg) == 0
    assert not page.exists()
    assert cli("build", "-q", "--full", "-c", cfg) == 0
    assert page.is_file() and (site / "rss.xml").is_file()
    capsys.readouterr()
