"""Stories and tags through the whole pipeline (SPEC §10): feeds from a loopback server, `tidings run`, then
`tidings items --json` and the Hexo posts. Items come from the labelled set (tests/stories/data)."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from feedserver import rss
from util import cli, posts, write_config

LABELLED = {r["id"]: r for r in map(json.loads, (Path(__file__).parent / "stories" / "data" / "labelled.jsonl")
                                    .read_text("utf-8").splitlines())}


def _items(*ids: str) -> list[dict]:
    out = []
    for i in ids:
        r = LABELLED[i]
        out.append({"title": r["title"], "link": f"http://news.example/{i}", "guid": i,
                    "pubDate": format_datetime(datetime.fromtimestamp(r["published"], UTC)),
                    "description": f"<p>{r['text']}</p>"})
    return out


def _sources(server, feeds: dict[str, list[str]]) -> list[dict]:
    return [{"category": "新闻", "source": name, "url": server.add(f"/{name}.xml", rss(_items(*ids), title=name))}
            for name, ids in feeds.items()]


def _items_json(cfg, capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert cli("items", "--json", "-c", cfg, *args) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_reposts_share_a_story_and_a_same_topic_item_does_not(tmp_path, store_at, server, capsys):
    sources = _sources(server, {"xinhua": ["zh-pmi-oct-1", "zh-pmi-nov-1"], "sina": ["zh-pmi-oct-2"]})
    cfg = write_config(tmp_path, sources, hexo={"front_matter": "hexo"}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    rows = {r["id"]: r for r in _items_json(cfg, capsys)}
    assert len(rows) == 3
    by_guid = {r["link"].rsplit("/", 1)[1]: r for r in rows.values()}
    oct1, oct2, nov = by_guid["zh-pmi-oct-1"], by_guid["zh-pmi-oct-2"], by_guid["zh-pmi-nov-1"]
    # the id of the item stored first names the story (the two feeds are fetched at once: either)
    assert oct1["story"] == oct2["story"] in (oct1["id"], oct2["id"])
    assert nov["story"] == nov["id"] != oct1["story"]  # October's PMI is not November's
    assert oct2["source"] == sources[1]["url"] and oct2["category"] == ["新闻", "sina"]
    assert oct1["published"].endswith("Z") and datetime.fromisoformat(oct1["published"]).tzinfo is not None
    for r in rows.values():
        assert 1 <= len(r["tags"]) <= 5 and all(len(t) > 1 for t in r["tags"]), r["tags"]
        assert not {"记者", "表示", "报道", "今年"} & set(r["tags"])
    assert any("PMI" in t.upper() or "制造业" in t for t in oct1["tags"]), oct1["tags"]
    # newest first
    assert [r["published"] for r in rows.values()] == sorted((r["published"] for r in rows.values()), reverse=True)
    # preset hexo writes the story and the tags
    text = {p.read_text("utf-8") for p in posts(tmp_path)}
    assert sum(f"story: {oct1['story']}" in t for t in text) == 2
    assert all("\ntags:\n  - " in t for t in text)


def test_a_late_member_joins_the_story_already_there(tmp_path, store_at, server, capsys):
    first = next(i for i in LABELLED if i.endswith("-1") and i.startswith("zh-shenzhou"))
    second = next(i for i in LABELLED if i.startswith("zh-shenzhou") and i != first)
    sources = _sources(server, {"a": [first]})
    cfg = write_config(tmp_path, sources, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    [only] = _items_json(cfg, capsys)
    sources += _sources(server, {"b": [second]})
    cfg = write_config(tmp_path, sources, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    rows = _items_json(cfg, capsys)
    assert len(rows) == 2 and {r["story"] for r in rows} == {only["id"]}


def test_items_filters_and_plain_output(tmp_path, store_at, server, capsys):
    sources = _sources(server, {"xinhua": ["zh-pmi-oct-1", "zh-pmi-nov-1"], "sina": ["zh-pmi-oct-2"]})
    cfg = write_config(tmp_path, sources, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    assert {r["source"] for r in _items_json(cfg, capsys, "--source", sources[1]["url"])} == {sources[1]["url"]}
    nov = LABELLED["zh-pmi-nov-1"]["published"]
    since = datetime.fromtimestamp(nov, UTC).isoformat()
    assert [r["link"] for r in _items_json(cfg, capsys, "--since", since)] == ["http://news.example/zh-pmi-nov-1"]
    capsys.readouterr()
    assert cli("items", "-c", cfg) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and any("[story " in line for line in out)
    assert cli("items", "-c", cfg, "--since", "yesterday") == 2
    assert "not a date" in capsys.readouterr().err
    assert cli("items", "-c", cfg, "--source", "http://nowhere.example/") == 2


def test_stories_and_tags_can_be_turned_off(tmp_path, store_at, server, capsys):
    sources = _sources(server, {"xinhua": ["zh-pmi-oct-1"], "sina": ["zh-pmi-oct-2"]})
    cfg = write_config(tmp_path, sources, stories={"enabled": False}, tags={"enabled": False}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    rows = _items_json(cfg, capsys)
    assert all(r["story"] == r["id"] and r["tags"] == [] for r in rows)
