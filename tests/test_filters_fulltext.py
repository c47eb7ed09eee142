"""Include/exclude filters and full text through the pipeline (issue: clean, safe, complete articles), on both
store backends (store_at)."""
from feedserver import rss
from util import cli, posts, store_rows, write_config

from tidings.filters import ItemFilter
from tidings.store import open_store


def feed_items():
    return [
        {"title": "股市大涨", "guid": "1", "link": "http://n.example/1", "description": "<p>上证指数</p>",
         "pubDate": "Mon, 14 Mar 2022 01:00:00 GMT"},
        {"title": "广告：理财课程", "guid": "2", "link": "http://n.example/2", "description": "<p>报名</p>",
         "pubDate": "Mon, 14 Mar 2022 02:00:00 GMT"},
        {"title": "Football results", "guid": "3", "link": "http://n.example/3", "description": "<p>Sponsored</p>",
         "pubDate": "Mon, 14 Mar 2022 03:00:00 GMT", "author": "Ads Team"},
    ]


def states(store_at):
    return dict(store_rows(store_at, "select guid, state from items"))


def test_item_filter_rules():
    f = ItemFilter.from_rules(include=[{"category": "金融"}, "Football"], exclude=[{"content": "sponsored"}])
    assert f.accepts(title="x", categories=["金融"])
    assert not f.accepts(title="Football", content="<p>Sponsored</p>")  # exclude wins, case-insensitive
    assert f.accepts(title="Football", content="<p>score</p>")
    assert not f.accepts(title="other", categories=["科技"])
    assert ItemFilter.from_rules(include=[{"title": "a", "author": "b"}]).accepts(title="a", author="c") is False


def test_global_and_source_filters_record_filtered_items(tmp_path, store_at, server):
    url = server.add("/f", rss(feed_items()))
    cfg = write_config(tmp_path, [{"category": "金融", "source": "s", "url": url,
                                   "exclude": [{"content": "sponsored"}]}],
                       filters={"exclude": ["^广告"]}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    assert states(store_at) == {"1": "published", "2": "filtered", "3": "filtered"}
    assert [p.stem for p in posts(tmp_path)] == ["股市大涨"]


def test_filters_are_re_evaluated_only_when_they_change(tmp_path, store_at, server, monkeypatch):
    url = server.add("/f", rss(feed_items()))
    sources = [{"category": "金融", "source": "s", "url": url}]
    cfg = write_config(tmp_path, sources, filters={"exclude": ["^广告"]}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    assert states(store_at)["2"] == "filtered"

    calls = []
    with open_store(store_at) as store:
        store_class = type(store)  # SQLiteStore or PostgresStore
    real = store_class.refilter
    monkeypatch.setattr(store_class, "refilter", lambda self, *a: calls.append(1) or real(self, *a))
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert calls == []  # same filters: nothing re-evaluated
    cfg = write_config(tmp_path, sources, filters={"exclude": ["Football"]}, store=store_at)
    assert cli("build", "-q", "-c", cfg) == 0
    assert calls == [1]
    assert states(store_at) == {"1": "published", "2": "published", "3": "filtered"}
    assert sorted(p.stem for p in posts(tmp_path)) == ["广告：理财课程", "股市大涨"]


def test_bad_filter_regex_is_a_config_error(tmp_path, capsys):
    cfg = write_config(tmp_path, [{"url": "http://127.0.0.1:1/f", "include": [{"title": "(unclosed"}]}])
    assert cli("run", "-c", cfg) == 2
    assert "sources[0].include" in capsys.readouterr().err


ARTICLE = """<!DOCTYPE html><html><head><title>Story</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/login">Log in to comment</a></nav>
<aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Celebrity gossip roundup</a></li></ul></aside>
<article><h1>Harbour bridge reopens after repairs</h1>
<p>The harbour bridge reopened on Monday after eighteen months of repairs that replaced the deck and cables.</p>
<p>Engineers said the new cables were designed to last a century and would be inspected every five years.</p>
<img src="/img/bridge.jpg" alt="The bridge at dawn" width="640" height="360">
<p>Traffic officials expect commuting times across the river to fall by a quarter once both lanes open.</p>
<p>The city council thanked residents for their patience during the long closure of the crossing.</p>
</article>
<div class="comments"><h3>Comments</h3><p>First! This is a comment nobody should see.</p></div>
<div class="ad">BUY NOW: cheap flights to everywhere</div>
<footer>Copyright Example News</footer></body></html>"""


def test_full_text_fetches_the_article_once_when_private_addresses_are_allowed(tmp_path, store_at, server):
    page = server.add("/story/1", ARTICLE, content_type="text/html; charset=utf-8")
    item = {"title": "Bridge reopens", "guid": "b1", "link": page, "description": "<p>Short summary.</p>",
            "pubDate": "Mon, 14 Mar 2022 01:00:00 GMT"}
    url = server.add("/f", rss([item]))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url, "full_text": True}],
                       fetch={"allow_private": True}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    (post,) = posts(tmp_path)
    text = post.read_text(encoding="utf-8")
    assert "eighteen months of repairs" in text and "inspected every five years" in text
    assert "Short summary" not in text
    assert "nobody should see" not in text and "cheap flights" not in text and "Celebrity gossip" not in text
    assert f"http://127.0.0.1:{server.port}/img/bridge.jpg" in text and 'referrerpolicy="no-referrer"' in text
    assert server.hits["/story/1"] == 1
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert server.hits["/story/1"] == 1  # stored: fetched once


def test_full_text_refuses_private_addresses_by_default(tmp_path, store_at, server, capsys):
    page = server.add("/story/1", ARTICLE, content_type="text/html; charset=utf-8")
    items = [{"title": "Local", "guid": "l", "link": page, "description": "<p>Short summary.</p>"},
             {"title": "Internal", "guid": "i", "link": "http://10.0.0.1/admin", "description": "<p>Teaser.</p>"}]
    url = server.add("/f", rss(items))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url, "full_text": "auto"}], store=store_at)
    assert cli("run", "-c", cfg) == 0  # the feed itself is fine: the items keep their summaries
    out = capsys.readouterr().out
    assert server.hits["/story/1"] == 0
    assert "full text of " + page in out and "full text of http://10.0.0.1/admin" in out
    assert sorted("Short summary" in p.read_text(encoding="utf-8") or "Teaser" in p.read_text(encoding="utf-8")
                  for p in posts(tmp_path)) == [True, True]
