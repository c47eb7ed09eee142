"""The whole pipeline through the CLI against a local server: dedup, updates in place, failing sources. Every
test that runs the pipeline does so on a SQLite and on a PostgreSQL store (store_at)."""
from feedserver import rss
from util import cli, posts, snapshot, store_rows, store_value, write_config


def items(n, prefix="Story", changed=None):
    out = []
    for i in range(n):
        title = f"{prefix} {i}"
        body = f"<p>Body of {title}</p>" + (" <p>updated</p>" if changed == i else "")
        out.append({"title": title, "link": f"http://news.example.com/{i}", "guid": f"id-{i}",
                    "pubDate": f"Mon, 14 Mar 2022 {i % 24:02d}:00:00 GMT", "description": body})
    return out


def test_second_run_writes_nothing_and_a_change_rewrites_one_post(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(5)))
    cfg = write_config(tmp_path, [{"category": "新闻", "source": "Example", "channel": "Main", "url": url}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    first = snapshot(tmp_path / "blog")
    assert len(posts(tmp_path)) == 5

    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert snapshot(tmp_path / "blog") == first  # no new files, no rewritten files

    server.add("/feed", rss(items(5, changed=2)))
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    after = snapshot(tmp_path / "blog")
    assert after.keys() == first.keys()
    rewritten = [p for p in after if after[p] != first[p]]
    assert rewritten == ["source/_posts/新闻/Example/Main/Story 2.md"]
    assert "updated" in (tmp_path / "blog" / rewritten[0]).read_text(encoding="utf-8")


def test_title_change_moves_the_post(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(2)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    renamed = items(2)
    renamed[0]["title"] = "A new title"
    server.add("/feed", rss(renamed))
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    names = sorted(p.name for p in posts(tmp_path))
    assert names == ["A new title.md", "Story 1.md"]


def test_first_fetch_takes_at_most_limit_newest(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(20)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url, "limit": 4}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    names = sorted(p.stem for p in posts(tmp_path))
    assert names == ["Story 16", "Story 17", "Story 18", "Story 19"]  # the newest four by date
    assert store_value(store_at, "select count(*) from items") == 4


def test_same_title_in_two_items_never_overwrites(tmp_path, store_at, server):
    twins = items(2)
    twins[1]["title"] = twins[0]["title"]
    url = server.add("/feed", rss(twins))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    written = posts(tmp_path)
    assert len(written) == 2
    assert sorted(p.read_text(encoding="utf-8").count("Body of Story") for p in written) == [1, 1]


def test_hexo_preset(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(1)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "channel": "ch", "url": url}],
                       hexo={"front_matter": "hexo"}, store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    (post,) = posts(tmp_path)
    import yaml
    text = post.read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert post.relative_to(tmp_path / "blog" / "source" / "_posts").as_posix().startswith("2022/03/")
    assert post.stem == meta["id"] and len(meta["id"]) == 16
    assert str(meta["date"]) == "2022-03-14 08:00:00"  # 00:00 GMT in Asia/Shanghai
    assert meta["categories"] == ["c", "s", "ch"] and meta["link"] == "http://news.example.com/0"
    assert meta["disableNunjucks"] is True and meta["comments"] is False
    assert list(meta) == ["title", "date", "updated", "categories", "tags", "author", "headimg", "thumbnail",
                          "comments", "disableNunjucks", "id", "link", "story"]
    assert meta["story"] == meta["id"]  # a story of one


def test_broken_sources_do_not_stop_the_good_ones(tmp_path, store_at, server, capsys):
    good = [server.add(f"/good{i}", rss(items(3, prefix=f"Good{i}"))) for i in range(2)]
    server.add("/loop", status=302, headers={"Location": "/loop"})
    bad = {
        "not found": server.add("/404", status=404),
        "server error": server.add("/500", status=500),
        "timeout": server.add("/slow", rss(items(1)), delay=4),
        "loop": server.url("/loop"),
        "html": server.add("/html", "<!DOCTYPE html><html><body>Blocked</body></html>", content_type="text/html"),
        "malformed": server.add("/broken", "<rss <channel><item><title>x</item>"),  # beyond recovery
        "too big": server.add("/huge", rss(items(400))),
    }
    sources = [{"category": "ok", "source": f"good{i}", "url": u} for i, u in enumerate(good)]
    sources += [{"category": "bad", "source": name, "url": u} for name, u in bad.items()]
    cfg = write_config(tmp_path, sources, fetch={"timeout": 1.5, "retries": 0, "max_bytes": 20000}, store=store_at)
    assert cli("run", "-c", cfg) == 3
    out = capsys.readouterr().out
    assert len(posts(tmp_path)) == 6
    expected = {"not found": "HTTP 404", "server error": "HTTP 500", "timeout": "timed out",
                "loop": "too many redirects", "html": "HTML page", "malformed": "malformed XML",
                "too big": "too large"}
    failed_lines = [line for line in out.splitlines() if line.startswith("  ✗")]
    assert len(failed_lines) == 7
    for name, reason in expected.items():
        assert any(f"bad › {name} " in line and reason in line for line in failed_lines), (name, out)
    errors = dict(store_rows(store_at, "select source, last_error from sources where last_error is not null"))
    assert set(errors) == set(bad)


def test_failed_fetch_keeps_what_was_stored(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(3)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    server.add("/feed", status=500)
    assert cli("run", "--force", "-q", "-c", cfg) == 3
    assert len(posts(tmp_path)) == 3


def test_not_modified_costs_no_parse(tmp_path, store_at, server, monkeypatch):
    url = server.add("/feed", rss(items(2)), etag='"e1"')
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    import tidings.jobs as jobs

    def boom(*a, **k):
        raise AssertionError("parsed a 304")

    monkeypatch.setattr(jobs, "parse_feed", boom)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert server.requests[-1][1].get("If-None-Match") == '"e1"'


def test_config_errors_exit_2_naming_file_line_key(tmp_path, capsys):
    cfg = tmp_path / "tidings.yml"
    cfg.write_text("site:\n  title: x\nsources:\n  - category: a\n    colour: red\n    url: http://x/\n")
    assert cli("fetch", "-c", cfg) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tidings: {cfg}:5: sources[0].colour: unknown key"


def test_init_writes_a_valid_commented_config(tmp_path):
    assert cli("init", tmp_path) == 0
    text = (tmp_path / "tidings.yml").read_text(encoding="utf-8")
    assert text.count("#") > 10
    from tidings.config import load
    cfg = load(tmp_path / "tidings.yml")
    assert cfg.feed_sources()[0].url == "https://rsshub.app/sina/finance"
    assert cli("init", tmp_path) == 2  # refuses to overwrite


def test_second_process_is_refused_while_one_holds_the_lock(tmp_path, store_at, server, capsys):
    from tidings.pipeline import RunLock
    url = server.add("/feed", rss(items(1)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    with RunLock(store_at):
        assert cli("run", "--force", "-q", "-c", cfg) == 2
    assert "another tidings process" in capsys.readouterr().err
    assert cli("run", "--force", "-q", "-c", cfg) == 0


def test_retention_prunes_posts_and_pruned_items_never_come_back(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(6)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], site_dir="public",
                       site={"search": False}, store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert len(list((tmp_path / "public" / "a").rglob("*.html"))) == 6
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url, "retain_per_source": 2}],
                       site_dir="public", site={"search": False}, store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert sorted(p.stem for p in posts(tmp_path)) == ["Story 4", "Story 5"]
    pages = sorted((tmp_path / "public" / "a").rglob("*.html"))
    assert len(pages) == 2 and all("Story 4" in p.read_text() or "Story 5" in p.read_text() for p in pages)
    # the same feed again: the four pruned items stay gone
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert sorted(p.stem for p in posts(tmp_path)) == ["Story 4", "Story 5"]
    assert dict(store_rows(store_at, "select state, count(*) from items group by state")) == {
        "published": 2, "pruned": 4}


def test_retain_days_uses_publication_dates(tmp_path, store_at, server):
    url = server.add("/feed", rss(items(3)))  # all dated 2022
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], retain_days=30, store=store_at)
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert posts(tmp_path) == []


def test_one_shot_run_honours_next_fetch_times_unless_forced(tmp_path, store_at, server, capsys):
    good = server.add("/feed", rss(items(2)), headers={"Cache-Control": "max-age=7200"})
    bad = server.add("/bad", status=500)
    cfg = write_config(tmp_path, [{"category": "c", "source": "good", "url": good},
                                  {"category": "c", "source": "bad", "url": bad}], store=store_at)
    started = __import__("time").time()
    assert cli("run", "-q", "-c", cfg) == 3
    nxt = dict(store_rows(store_at, "select source, next_fetch - ? from sources", (started,)))
    assert 7200 <= nxt["good"] < 7220  # max-age asked for two hours
    assert 0.85 * 600 <= nxt["bad"] <= 1.15 * 600 + 20  # first backoff step: 10 min ± jitter
    hits = dict(server.hits)
    assert cli("run", "-c", cfg) == 3  # nothing due, nothing fetched, but the failing source is still named
    assert dict(server.hits) == hits
    out = capsys.readouterr().out
    assert "bad <" in out and "HTTP 500 (1 in a row; next try" in out
    assert cli("run", "--force", "-q", "-c", cfg) == 3
    assert server.hits["/feed"] == hits["/feed"] + 1
    assert store_value(store_at, "select error_count from sources where source='bad'") == 2


def test_bad_site_rule_is_a_config_error(tmp_path, capsys):
    cfg = write_config(tmp_path, [], rules={"example.com": {"remove": ["div[[["]}})
    assert cli("run", "-c", cfg) == 2
    err = capsys.readouterr().err
    assert "rules" in err and "example.com" in err and ":" in err.split("rules")[0]


def test_site_rules_from_config_remove_boilerplate(tmp_path, store_at, server):
    item = {"title": "Ruled", "guid": "r", "link": "http://news.example.com/r",
            "description": '<p>story</p><div class="promo">Subscribe now</div>'}
    url = server.add("/f", rss([item]))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}],
                       rules={"news.example.com": {"remove": [".promo"]}}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    (post,) = posts(tmp_path)
    text = post.read_text(encoding="utf-8")
    assert "story" in text and "Subscribe" not in text


def test_a_bug_on_one_feed_fails_that_source_only(tmp_path, store_at, server, monkeypatch, capsys):
    import tidings.jobs as jobs

    good = server.add("/good", rss(items(2)))
    cursed = server.add("/cursed", rss([{"title": "CURSED", "guid": "x"}]))
    real = jobs.Cleaner.__call__

    def flaky(self, e):
        if e.title == "CURSED":
            raise KeyError("simulated bug")
        return real(self, e)

    monkeypatch.setattr(jobs.Cleaner, "__call__", flaky)
    cfg = write_config(tmp_path, [{"category": "c", "source": "good", "url": good},
                                  {"category": "c", "source": "cursed", "url": cursed}], store=store_at)
    assert cli("run", "-c", cfg) == 3
    out = capsys.readouterr().out
    assert "cursed <" in out and "bug while reading the feed: KeyError" in out
    assert len(posts(tmp_path)) == 2
