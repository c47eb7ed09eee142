"""append_sources: comments and layout kept, duplicates skipped, filters applied."""
import shutil
from pathlib import Path

import pytest
import yaml as pyyaml

from tidings.catalog import CatalogError, SourceSpec, append_sources, read_config_sources, select_specs

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"


def R(category, source, channel, route, limit=None):
    return SourceSpec(category=category, source=source, channel=channel, route=route, limit=limit)


def U(category, source, channel, url):
    return SourceSpec(category=category, source=source, channel=channel, url=url)


@pytest.fixture()
def config(tmp_path):
    p = tmp_path / "tidings.yml"
    shutil.copy(FIX / "tidings-commented.yml", p)
    return p


EXPECTED_AFTER = """\
# tidings configuration — 资讯聚合
site:
  title: 资讯聚合                    # site title
  url: https://news.example.com/     # absolute links in site feeds and sitemap
  timezone: Asia/Shanghai            # IANA zone for dates

rsshub: https://rsshub.app           # base URL for `route:` sources

sources:
  # 财经
  - category: 金融
    source: 新浪财经
    channel: 新浪财经－国內
    route: /sina/finance             # = <rsshub>/sina/finance
    limit: 15                        # newest N items taken per fetch
  - category: 科技
    source: 少数派
    url: "https://sspai.com/feed/"   # quoted on purpose
  - category: 金融
    source: 新浪财经
    channel: 新浪财经－美股
    route: /sina/finance/stock/usstock
  - category: 金融
    source: 雪球
    channel: 'Up: 用户动态'
    route: /xueqiu/user/8152922548
    limit: 20
  # - category: Tech
  #   source: Example
  #   url: https://example.com/feed.xml

# built-in static site
site_dir: public
"""


def test_append_keeps_comments_and_skips_duplicates(config):
    specs = [
        R("金融", "新浪财经", "新浪财经－国內", "/sina/finance"),  # same route
        R("金融", "新浪财经", "新浪财经－美股", "/sina/finance/stock/usstock"),
        U("科技", "少数派", "", "https://sspai.com/feed"),  # same URL but for the trailing slash
        U("金融", "新浪", "", "https://RSSHub.app/sina/finance/"),  # the feed URL of an existing route
        R("金融", "雪球", "Up: 用户动态", "/xueqiu/user/8152922548", limit=20),
        R("金融", "新浪财经", "新浪财经－美股", "/sina/finance/stock/usstock/"),  # twice in this import
    ]
    result = append_sources(config, specs)
    assert config.read_text(encoding="utf-8") == EXPECTED_AFTER
    assert result.written and not result.reformatted
    assert result.added == [specs[1], specs[4]]
    assert result.skipped == [
        (specs[0], "route /sina/finance is already in tidings.yml (sources[0], line 11)"),
        (specs[2], "URL https://sspai.com/feed is already in tidings.yml (sources[1], line 16)"),
        (specs[3], "feed URL https://rsshub.app/sina/finance is already in tidings.yml (sources[0], line 11)"),
        (specs[5], "route /sina/finance/stock/usstock is already in this import"),
    ]
    # the result is the YAML we meant
    assert pyyaml.safe_load(EXPECTED_AFTER)["sources"][3] == {
        "category": "金融", "source": "雪球", "channel": "Up: 用户动态", "route": "/xueqiu/user/8152922548", "limit": 20}
    # importing the same list again adds nothing and leaves the file alone
    again = append_sources(config, specs)
    assert again.added == [] and not again.written
    assert config.read_text(encoding="utf-8") == EXPECTED_AFTER


def test_duplicates_use_the_files_rsshub_base(tmp_path):
    p = tmp_path / "t.yml"
    p.write_text("rsshub: https://hub.example.org/\nsources:\n  - url: https://hub.example.org/sina/finance\n",
                 encoding="utf-8")
    result = append_sources(p, [R("金融", "新浪财经", "", "/sina/finance"), R("金融", "新浪财经", "", "/cls/telegraph")])
    assert [s.route for s in result.added] == ["/cls/telegraph"]
    assert result.skipped[0][1] == ("feed URL https://hub.example.org/sina/finance is already in t.yml "
                                    "(sources[0], line 3)")


def test_filters(config):
    specs = [
        R("金融", "新浪财经", "美股", "/sina/finance/stock/usstock"),
        R("Finance", "Sina", "China", "/sina/finance/china"),
        R("科技", "新浪科技", "", "/sinatech/roll"),
        R("传统媒体", "新浪", "滚动", "/sina/rollnews"),
        U("金融", "华尔街见闻", "", "https://wallstreetcn.com/rss.xml"),
    ]
    kept, dropped = select_specs(specs, category="finance")  # slug = 金融 = Finance
    assert kept == [specs[0], specs[1], specs[4]]
    assert select_specs(specs, category="FINANCE")[0] == kept
    assert select_specs(specs, category="金融")[0] == kept
    assert select_specs(specs, route="/sina")[0] == [specs[0], specs[1], specs[3]]  # not /sinatech, not URLs
    assert select_specs(specs, route="sina/finance/")[0] == [specs[0], specs[1]]
    assert select_specs(specs, category="金融", route="/sina")[0] == [specs[0], specs[1]]

    result = append_sources(config, specs, category="金融", route="/sina/finance/stock")
    assert result.added == [specs[0]]
    assert result.filtered == [specs[1], specs[2], specs[3], specs[4]]
    assert result.skipped == []
    text = config.read_text(encoding="utf-8")
    assert "route: /sina/finance/stock/usstock\n  # - category: Tech" in text
    assert "/sina/finance/china" not in text


def test_dry_run_writes_nothing(config):
    before = config.read_bytes()
    result = append_sources(config, [R("金融", "雪球", "用户动态", "/xueqiu/user/1")], dry_run=True)
    assert len(result.added) == 1 and not result.written
    assert config.read_bytes() == before


@pytest.mark.parametrize("before, after", [
    # no sources: key — added at the end, the rest untouched
    ("site:\n  title: x   # t\n\n# store\nstore: a.db\n",
     "site:\n  title: x   # t\n\n# store\nstore: a.db\n\nsources:\n  - category: 金融\n    route: /a\n"),
    ("# only a comment\n", "# only a comment\n\nsources:\n  - category: 金融\n    route: /a\n"),
    ("", "sources:\n  - category: 金融\n    route: /a\n"),
    # empty sources: (null, with a comment) and []
    ("sources:   # none yet\nsite_dir: public\n",
     "sources:   # none yet\n  - category: 金融\n    route: /a\nsite_dir: public\n"),
    ("sources: []\n# end\n", "sources:\n  - category: 金融\n    route: /a\n# end\n"),
    # the file's own indentation is kept: items at the key's column, 4-space mappings
    ("site:\n    title: x\nsources:\n- category: b\n  route: /b\n",
     "site:\n    title: x\nsources:\n- category: b\n  route: /b\n- category: 金融\n  route: /a\n"),
    # flow-style items and trailing comments stay as they are
    ("sources:\n  - {category: b, route: /b}  # flow\n\n# site\nsite_dir: public\n",
     "sources:\n  - {category: b, route: /b}  # flow\n  - category: 金融\n    route: /a\n\n# site\nsite_dir: public\n"),
])
def test_sources_list_shapes(tmp_path, before, after):
    p = tmp_path / "t.yml"
    p.write_text(before, encoding="utf-8")
    result = append_sources(p, [SourceSpec(category="金融", route="/a")])
    assert p.read_text(encoding="utf-8") == after
    assert result.written and not result.reformatted


def test_bad_config_files(tmp_path):
    with pytest.raises(CatalogError, match="missing.yml"):
        append_sources(tmp_path / "missing.yml", [])
    p = tmp_path / "list.yml"
    p.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not a mapping"):
        append_sources(p, [SourceSpec(route="/a")])
    p.write_text("sources: [\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        append_sources(p, [SourceSpec(route="/a")])


def test_read_config_sources_for_export(config):
    specs, rsshub, title = read_config_sources(config)
    assert rsshub == "https://rsshub.app" and title == "资讯聚合"
    assert specs == [R("金融", "新浪财经", "新浪财经－国內", "/sina/finance", limit=15),
                     U("科技", "少数派", "", "https://sspai.com/feed/")]
