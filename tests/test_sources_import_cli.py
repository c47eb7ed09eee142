"""`tidings sources import` as a user meets it: what it prints, what it writes, its exit codes.

No backend to parametrize: `sources import` reads a page or feed and edits tidings.yml, and never opens the store
(no test here creates one)."""
import re

import pytest
from feedserver import rss
from util import cli, write_config

from tidings.config import load


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "tidings.yml"
    path.write_text("sources: []\n", encoding="utf-8")
    return path


def routes(cfg):
    return [(s.category, s.source, s.channel, s.route or s.url) for s in load(cfg).sources]


def test_english_docs_page_imports_routeen_and_counts_the_skipped(cfg, fixtures, capsys):
    page = fixtures / "catalog" / "docs-en-finance.md"
    assert cli("sources", "import", page, "-c", cfg) == 3  # imported, but not everything: see the warnings
    out, err = capsys.readouterr()
    assert len(routes(cfg)) == 6
    assert "+ Finance › Bloomberg › News  /bloomberg" in out
    assert f"6 added, 2 skipped (warnings below) → {cfg}" in out
    # every route not imported is named, with its line
    assert err.splitlines() == [
        f'warning: {page}:46: <RouteEn path="/finviz/screener/:filter"> has no example; skipped',
        f"warning: {page}:68: <RouteZh> is not a route tag tidings knows (<Route>, <RouteEn>); skipped",
    ]


def test_mixed_page_through_the_cli(cfg, fixtures, capsys):
    assert cli("sources", "import", fixtures / "catalog" / "docs-mixed-other.md", "-c", cfg) == 0
    assert ("Other", "GitHub", "User › Starred Repositories", "/github/starred_repos/DIYgod") in routes(cfg)
    assert ("Other", "DailyArt", "DailyArt", "/dailyart/en") in routes(cfg)
    assert "8 added → " in capsys.readouterr().out


def test_a_page_whose_routes_all_fail_is_an_error_not_zero_added(cfg, tmp_path, capsys):
    page = tmp_path / "broken.md"
    page.write_text("# Finance\n\n## A\n\n### B\n\n<RouteEn path=\"/a/:id\" />\n\n## C\n\n"
                    "<Route namespace=\"c\" :data='{\"path\":[\"/x\",\"/y\"],\"name\":\"C\"}' />\n", encoding="utf-8")
    before = cfg.read_text(encoding="utf-8")
    assert cli("sources", "import", page, "-c", cfg) == 2
    out, err = capsys.readouterr()
    assert "added" not in out
    assert f'warning: {page}:7: <RouteEn path="/a/:id"> has no example; skipped' in err
    assert f"warning: {page}:11: <Route> /c/x, /c/y has no example; skipped" in err  # readable, not ['/x', '/y']
    assert "['" not in err
    assert err.rstrip().endswith("nothing imported: all 2 entries found were skipped (warnings above)")
    assert cfg.read_text(encoding="utf-8") == before


def test_a_file_with_no_routes_at_all_is_an_error(cfg, tmp_path, capsys):
    page = tmp_path / "notes.md"
    page.write_text("# Notes\n\nNothing to import here.\n", encoding="utf-8")
    assert cli("sources", "import", page, "-c", cfg) == 2
    err = capsys.readouterr().err
    assert "no routes or feeds found in it (read as RSSHub documentation Markdown)" in err


def test_dry_run_says_it_wrote_nothing(cfg, fixtures, capsys):
    before = cfg.read_text(encoding="utf-8")
    assert cli("sources", "import", fixtures / "catalog" / "docs-mixed-other.md", "--dry-run", "-c", cfg) == 0
    out = capsys.readouterr().out
    assert "+ Other › Bing Wallpaper › Daily Wallpaper  /bing" in out
    assert out.rstrip().endswith(f"8 would be added; nothing written to {cfg} (--dry-run)")
    assert cfg.read_text(encoding="utf-8") == before


def test_quiet_drops_the_per_entry_lines_but_not_the_summary_or_warnings(cfg, fixtures, capsys):
    page = fixtures / "catalog" / "docs-en-finance.md"
    assert cli("sources", "import", "-q", page, "-c", cfg) == 3  # -q before or after the location
    out, err = capsys.readouterr()
    assert out == f"6 added, 2 skipped (warnings below) → {cfg}\n"
    assert err.count("warning: ") == 2
    assert cli("sources", "import", page, "-c", cfg, "-q") == 3
    assert capsys.readouterr().out == f"0 added, 6 already there, 2 skipped (warnings below) → {cfg}\n"


def test_a_filter_that_matches_nothing_names_the_categories(cfg, fixtures, capsys):
    assert cli("sources", "import", fixtures / "catalog" / "docs-mixed-other.md", "--category", "sport",
               "-c", cfg) == 2
    assert "--category sport matches none of the 8 entries (their categories: Other)" in capsys.readouterr().err


def test_lang_en_names_api_routes_in_english(cfg, fixtures):
    assert cli("sources", "import", fixtures / "catalog" / "api-namespace.json", "--route", "/sina/finance",
               "--lang", "en", "-c", cfg) == 3
    assert [r[0] for r in routes(cfg)] == ["Finance"] * len(routes(cfg))
    cfg.write_text("sources: []\n", encoding="utf-8")
    assert cli("sources", "import", fixtures / "catalog" / "api-namespace.json", "--route", "/sina/finance",
               "-c", cfg) == 3
    assert [r[0] for r in routes(cfg)] == ["金融"] * len(routes(cfg))  # Chinese by default


def test_a_feed_url_is_added_as_a_url_source(cfg, server, capsys):
    feed = server.add("/world.xml", rss([{"title": "a", "guid": "1"}], title="World news"))
    assert cli("sources", "import", feed, "-c", cfg) == 0
    assert routes(cfg) == [("", "World news", "", feed)]
    assert f"+ World news  {feed}" in capsys.readouterr().out
    atom = server.add("/atom", '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom one'
                               "</title></feed>", content_type="application/atom+xml")
    assert cli("sources", "import", atom, "-c", cfg) == 0
    assert routes(cfg)[-1] == ("", "Atom one", "", atom)


def test_a_feed_on_the_configured_rsshub_instance_becomes_a_route(tmp_path, server):
    feed = server.add("/rsshub/sina/finance", rss([{"title": "a", "guid": "1"}], title="新浪财经"))
    cfg = write_config(tmp_path, [], rsshub=feed.removesuffix("/sina/finance"))
    assert cli("sources", "import", feed, "-c", cfg) == 0
    assert routes(cfg) == [("", "新浪财经", "", "/sina/finance")]


def test_a_feed_file_says_how_to_add_it(cfg, tmp_path, capsys):
    feed = tmp_path / "feed.xml"
    feed.write_text(rss([{"title": "a", "guid": "1"}]), encoding="utf-8")
    assert cli("sources", "import", feed, "-c", cfg) == 2
    err = capsys.readouterr().err
    assert re.search(r"is a news feed, not a list of sources; import it by its http\(s\) URL", err)
    assert "`url: …`" in err


@pytest.mark.parametrize("codec, bom", [("utf-16-le", False), ("utf-16-be", True), ("utf-32-be", False),
                                        ("utf-32-le", True)])
def test_a_feed_url_in_utf16_or_utf32_is_a_feed_too(cfg, server, capsys, codec, bom):
    # tidings reads these feeds (SPEC §9); `sources import` took them for Markdown and found "no routes"
    text = rss([{"title": "a", "guid": "1"}], title="宽字节新闻").replace('encoding="UTF-8"', f'encoding="{codec[:6]}"')
    feed = server.add(f"/{codec}.xml", ("\ufeff" + text if bom else text).encode(codec))
    assert cli("sources", "import", feed, "-c", cfg) == 0, capsys.readouterr().err
    assert routes(cfg) == [("", "宽字节新闻", "", feed)]


def test_a_feed_title_with_a_raw_ampersand_keeps_it(cfg, server):
    # a raw `&` is recovered as the feed reader recovers it, not dropped with the word after it ("Q weekly")
    body = rss([{"title": "a", "guid": "1"}]).replace("<title>Test feed</title>", "<title>Q&A weekly &mdash; all</title>")
    feed = server.add("/qa.xml", body)
    assert cli("sources", "import", feed, "-c", cfg) == 0
    assert routes(cfg) == [("", "Q&A weekly — all", "", feed)]
