"""RSSHub documentation Markdown → SourceSpec, in the three historic layouts."""
from pathlib import Path

import pytest

from tidings.catalog import CatalogWarning, SourceSpec, parse_rsshub_docs

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"


def S(category, source, channel, route):
    return SourceSpec(category=category, source=source, channel=channel, route=route)


def read(name):
    return (FIX / name).read_text(encoding="utf-8")


def test_vuepress_self_closing_and_block_routes():
    specs, warnings = parse_rsshub_docs(read("docs-vuepress-finance.md"))
    assert specs == [
        S("金融", "新浪财经", "新浪财经－国內", "/sina/finance"),
        S("金融", "新浪财经", "新浪财经－美股", "/sina/finance/stock/usstock"),
        # a route directly under its site heading takes the site name as channel
        S("金融", "金十数据", "金十数据", "/jinshi/index"),
        S("金融", "雪球", "用户动态", "/xueqiu/user/8152922548"),
        S("金融", "雪球", "基金净值更新", "/xueqiu/fund/040008"),
        # a tag spread over several lines; the routes in the code fence and the HTML comment are not routes
        S("金融", "财联社", "电报", "/cls/telegraph"),
        S("金融", "财联社", "深度", "/cls/depth/1000"),
    ]
    assert warnings == [
        CatalogWarning(42, '<Route path="/xueqiu/no-example/:id"> has no example; skipped'),
        CatalogWarning(46, "unclosed <Route> tag (blank line before '>'); skipped"),
        CatalogWarning(50, "<Route …> block is not closed by </Route>; skipped"),
    ]


def test_oldest_single_page_with_route_names():
    specs, warnings = parse_rsshub_docs(read("docs-oldest-single-page.md"))
    assert specs == [
        S("社交媒体", "bilibili", "番剧", "/bilibili/bangumi/21680"),
        S("社交媒体", "bilibili", "UP 主投稿", "/bilibili/user/video/2267573"),
        S("社交媒体", "微博", "博主", "/weibo/user/1195230310"),
        S("传统媒体", "央视新闻", "专题", "/cctv/world"),
    ]
    assert warnings == [CatalogWarning(25, '<route path="/weibo/keyword/:keyword"> has no example; skipped')]


def test_docusaurus_jsx_block_form():
    specs, warnings = parse_rsshub_docs(read("docs-docusaurus-finance.mdx"))
    assert specs == [
        S("金融", "新浪财经", "新浪财经－国內", "/sina/finance"),
        S("金融", "新浪财经", "滚动新闻", "/sina/rollnews"),
        S("金融", "财联社", "电报", "/cls/telegraph"),
        S("金融", "财联社", "深度", "/cls/depth/1000"),
    ]
    assert warnings == [
        CatalogWarning(31, "unterminated {…} value of paramsDesc; skipped"),
        CatalogWarning(35, '<Route path="/cls/depth/:category?"> has no example; skipped'),
    ]


def test_generated_pages_with_json_data():
    specs, warnings = parse_rsshub_docs(read("docs-generated-finance.md"))
    assert specs == [
        S("金融", "新浪", "财经－国內", "/sina/finance/china"),
        S("金融", "新浪", "美股", "/sina/finance/stock/usstock"),  # ["popular", "finance"]: popular is not a subject
        S("金融", "华尔街见闻", "Investor's 快讯", "/wallstreetcn/live"),  # no categories: the page's
        S("传统媒体", "第一财经", "最新", "/yicai/latest"),  # categories win over the page heading
    ]
    assert [w.line for w in warnings] == [25, 29, 33]
    assert warnings[0].message.startswith("<Route :data> is not valid JSON (")
    assert warnings[1] == CatalogWarning(29, "<Route> /wallstreetcn* has no example; skipped")
    assert warnings[2] == CatalogWarning(33, "unclosed <Route> tag (blank line before '>'); skipped")


def test_category_override_applies_to_every_form():
    for name in ("docs-vuepress-finance.md", "docs-docusaurus-finance.mdx", "docs-generated-finance.md"):
        specs, _ = parse_rsshub_docs(read(name), category="财经")
        assert specs and {s.category for s in specs} == {"财经"}, name


def test_generated_english_page_uses_english_category_names():
    md = (
        "# 💰 Finance\n\n## Sina <Site url=\"sina.com.cn\"/>\n\n### China <Site url=\"sina.com.cn\" size=\"sm\" />\n\n"
        "<Route namespace=\"sina\" :data='{\"path\":\"/finance/china\",\"categories\":[\"finance\"],"
        "\"example\":\"/sina/finance/china\",\"name\":\"China\"}' />\n"
    )
    assert parse_rsshub_docs(md).specs == [S("Finance", "Sina", "China", "/sina/finance/china")]
    assert parse_rsshub_docs(md, lang="zh").specs == [S("金融", "Sina", "China", "/sina/finance/china")]


@pytest.mark.parametrize("data_attr", [
    # apostrophe as &#39; (what RSSHub writes), as a backslash escape, and the whole JSON entity-encoded
    """:data='{"path":"/a","example":"/ns/a","name":"It&#39;s \\"新\\"","categories":["blog"]}'""",
    """:data='{"path":"/a","example":"/ns/a","name":"It\\'s \\"新\\"","categories":["blog"]}'""",
    """:data="{&quot;path&quot;:&quot;/a&quot;,&quot;example&quot;:&quot;/ns/a&quot;,&quot;name&quot;:&quot;It's \\&quot;新\\&quot;&quot;,&quot;categories&quot;:[&quot;blog&quot;]}\"""",
])
def test_generated_json_escapes(data_attr):
    md = f"# 📝 博客\n\n## 某站\n\n<Route namespace=\"ns\" {data_attr} />\n"
    specs, warnings = parse_rsshub_docs(md)
    assert warnings == []
    assert specs == [S("博客", "某站", 'It\'s "新"', "/ns/a")]


def test_namespace_is_the_source_when_there_is_no_site_heading():
    md = "<Route namespace=\"yicai\" :data='{\"path\":\"/latest\",\"example\":\"/yicai/latest\",\"name\":\"最新\"}' />\n"
    assert parse_rsshub_docs(md).specs == [S("", "yicai", "最新", "/yicai/latest")]


def test_front_matter_title_is_the_category_fallback_and_example_gets_a_slash():
    md = "---\ntitle: 金融\n---\n\n## 新浪财经\n\n### 国内\n\n<Route example=\"sina/finance\" path=\"/sina/finance\" />\n"
    assert parse_rsshub_docs(md).specs == [S("金融", "新浪财经", "国内", "/sina/finance")]


def test_example_with_entities_and_a_bad_route_is_a_warning():
    md = ("# 其他\n\n## 591\n\n### 租屋\n\n"
          "<Route example=\"/591/tw/rent/order=posttime&amp;orderType=desc\" path=\"/591/:country/rent/:query?\" />\n\n"
          "### 空格\n\n<Route example=\"/has space/x\" path=\"/x\" />\n")
    specs, warnings = parse_rsshub_docs(md)
    assert specs == [S("其他", "591", "租屋", "/591/tw/rent/order=posttime&orderType=desc")]
    assert warnings == [CatalogWarning(11, "route /has space/x: a route has no spaces: '/has space/x'; skipped")]


def test_an_unclosed_tag_at_the_end_of_the_file():
    specs, warnings = parse_rsshub_docs("# 金融\n\n## 站\n\n### 频道\n\n<Route example=\"/a\" path=\"/a\"")
    assert specs == []
    assert warnings == [CatalogWarning(7, "unclosed <Route> tag (the file ends before '>'); skipped")]


def test_english_pages_use_routeen():
    # English VuePress pages (docs/en/*.md, 2019–2023) write <RouteEn>, self-closing or as a block, any case
    specs, warnings = parse_rsshub_docs(read("docs-en-finance.md"))
    assert specs == [
        S("Finance", "Bloomberg", "News", "/bloomberg"),
        S("Finance", "CFD", "Indices Dividend Adjustment (GBP)", "/cfd/div_gbp"),
        S("Finance", "finviz", "News", "/finviz"),
        S("Finance", "finviz", "US Stock News", "/finviz/news/AAPL"),
        S("Finance", "Seeking Alpha", "Summary", "/seekingalpha/TSM/transcripts"),
        S("Finance", "Unusual Whales", "News Flow", "/unusualwhales/news"),  # <routeEn name=…> under its site
    ]
    assert warnings == [
        CatalogWarning(46, '<RouteEn path="/finviz/screener/:filter"> has no example; skipped'),
        CatalogWarning(68, "<RouteZh> is not a route tag tidings knows (<Route>, <RouteEn>); skipped"),
    ]


def test_mixed_page_takes_each_routes_names_from_its_own_headings():
    # <Route> and <RouteEn>; routes right under their site, under a route heading, named in the tag, and grouped
    # one level deeper: most routes here sit right under their site, which a page-wide guess read as channels
    specs, warnings = parse_rsshub_docs(read("docs-mixed-other.md"))
    assert warnings == []
    assert specs == [
        S("Other", "DailyArt", "DailyArt", "/dailyart/en"),
        S("Other", "Dilbert Comic Strip", "Daily Strip", "/dilbert/strip"),
        S("Other", "金十数据", "金十数据", "/jinshi/index"),
        S("Other", "Elite Wallpapers", "Elite Wallpapers", "/elitewallpapers"),
        S("Other", "Bing Wallpaper", "Daily Wallpaper", "/bing"),
        S("Other", "GitHub", "Repository › Issues", "/github/issue/DIYgod/RSSHub"),
        S("Other", "GitHub", "Repository › Pull Requests", "/github/pulls/DIYgod/RSSHub"),
        S("Other", "GitHub", "User › Starred Repositories", "/github/starred_repos/DIYgod"),
    ]


def test_single_page_docs_mixing_named_and_unnamed_routes():
    # the oldest single page: category at ##, site at ###; one site gives its route a heading instead of a name
    md = ("# RSSHub\n\n## 社交媒体\n\n### bilibili\n\n<route name=\"番剧\" example=\"/bilibili/bangumi/1\" path=\"/a\"/>\n\n"
          "### 微博\n\n<route name=\"博主\" example=\"/weibo/user/1\" path=\"/b\"/>\n\n"
          "## 传统媒体\n\n### 央视新闻\n\n<route example=\"/cctv/world\" path=\"/cctv/:category\"/>\n\n"
          "### 财新网\n\n#### 首页新闻\n\n<route example=\"/caixin/index\" path=\"/caixin/index\"/>\n")
    assert parse_rsshub_docs(md).specs == [
        S("社交媒体", "bilibili", "番剧", "/bilibili/bangumi/1"),
        S("社交媒体", "微博", "博主", "/weibo/user/1"),
        S("传统媒体", "央视新闻", "央视新闻", "/cctv/world"),
        S("传统媒体", "财新网", "首页新闻", "/caixin/index"),
    ]


def test_generated_route_with_several_paths_and_no_example_is_named_readably():
    md = ("# 📝 博客\n\n## 某站\n\n### 文章\n\n"
          "<Route namespace=\"ns\" :data='{\"path\":[\"/a\",\"/b/:id\"],\"name\":\"文章\"}' />\n")
    specs, warnings = parse_rsshub_docs(md)
    assert specs == []
    assert warnings == [CatalogWarning(7, "<Route> /ns/a, /ns/b/:id has no example; skipped")]


def test_first_generator_wrote_data_as_a_jsx_expression():
    md = ("# 💰 金融\n\n## 新浪\n\n### 国内\n\n<Route namespace=\"sina\" data={{\"path\":\"/finance/china\","
          "\"categories\":[\"finance\"],\"example\":\"/sina/finance/china\",\"name\":\"国内\"}} />\n")
    assert parse_rsshub_docs(md) == ([S("金融", "新浪", "国内", "/sina/finance/china")], [])
