"""Synthetic stores for the site's tests and benchmark (bench/site.py): made-up news, no network."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ...model import Entry, Source, item_id
from ...store import IngestRow, Store

SOURCES = [
    ("金融", "新浪财经", "新浪财经－国內"), ("金融", "新浪财经", "新浪财经－国际"), ("金融", "华尔街见闻", "快讯"),
    ("科技", "36氪", "快讯"), ("科技", "IT之家", ""), ("Tech", "Hacker News", "Front Page"),
    ("Tech", "Ars Technica", "AI"), ("World", "BBC", "Asia"), ("World", "BBC", "Europe"),
    ("体育", "新浪体育", "NBA"), ("Odd / Names", "A:B?C", "#1 <chan>"),
]
def _words(text: str) -> list[str]:
    return text.split()


ZH = _words(
    "经济 发展 市场 银行 利率 股市 政策 改革 科技 创新 人工智能 芯片 半导体 新能源 汽车 电池 出口 贸易 消费 投资 "
    "企业 公司 行业 政府 会议 部署 推进 稳定 就业 收入 增长 下降 上涨 数据 报告 季度 同比 价格 指数 基金 债券 "
    "人民币 北京 上海 深圳 长春 吉林 国际 全球 城市 教育 医疗 文化 体育 旅游 房地产 交通 能源 电力 环境 气候 安全 "
    "监管 记者 表示 指出 强调 宣布 发布 合作 项目 计划 目标 措施 服务 平台 用户 产品 技术 研发 手机 互联网 数字 "
    "网络 软件 机器人 卫星 航天 研究"
)
EN = _words(
    "market economy growth bank rate stock technology energy vehicle chip trade export policy reform government "
    "inflation interest reserve investors shares index bond yield currency dollar oil gas price quarter report "
    "company revenue profit earnings analyst forecast demand supply factory production data survey china europe "
    "world talks minister president election court police storm weather climate health hospital school research "
    "space rocket software internet users platform model robot network security deal merger"
)


def _sentence(rng: random.Random, zh: bool, words: int) -> str:
    if zh:
        return "，".join("".join(rng.choices(ZH, k=5)) for _ in range(max(1, words // 5))) + "。"
    s = " ".join(rng.choices(EN, k=words))
    return s[0].upper() + s[1:] + ". "


def body(rng: random.Random, zh: bool, size: int, cover: str) -> str:
    """About `size` bytes of HTML shaped like a Sina article (see the seed post): indented paragraphs with a
    style attribute, a captioned image every few paragraphs, a link now and then. About 70% is text."""
    parts = []
    if cover and rng.random() < 0.5:
        parts.append(f'<div class="img_wrapper"><img src="{cover}" alt="图"><span class="img_descr">图</span></div>')
    n = k = 0
    while n < size:
        k += 1
        if k % 4 == 0:
            p = (f'<div class="img_wrapper"><img src="https://n.sinaimg.example/news/2024/{rng.randrange(10**8):08d}'
                 f'/w640h398/{rng.randrange(16**12):012x}.jpg" alt=""><span class="img_descr">'
                 f'{"".join(rng.choices(ZH, k=3))}</span></div>')
        else:
            link = f' <a href="https://example.com/{n}" target="_blank">{rng.choice(EN)}</a>' if k % 3 == 0 else ""
            p = f'<p cms-style="font-L">\u3000\u3000{_sentence(rng, zh, 25)}{_sentence(rng, not zh, 8)}{link}</p>'
        parts.append(p)
        n += len(p.encode())
    return "".join(parts)


def make_sources(n_sources: int | None = None) -> list[Source]:
    names = SOURCES[: n_sources or len(SOURCES)]
    return [Source(url=f"https://feeds.example.com/{i}.xml", category=c, source=s, channel=ch)
            for i, (c, s, ch) in enumerate(names)]


def entry(src: Source, k: int, when: datetime, rng: random.Random, size: int = 1500, cover_rate: float = 0.7,
          word: str = "", clean: bool = False) -> tuple[Entry, str]:
    """One made-up item: (entry, the HTML the site publishes). The entry's content is the feed's HTML; with
    `clean` the HTML published is what the pipeline stores for it (clean.clean_html: no style or class
    attributes, images with referrerpolicy and loading), otherwise that raw HTML itself."""
    zh = rng.random() < 0.6
    if zh:
        title = "".join(rng.choices(ZH, k=4)) + f"{word}第{k}号新闻"
    else:
        title = " ".join(w for w in [*rng.choices(EN, k=5), word, "story", str(k)] if w).capitalize()
    guid = f"{src.url}#item-{k}"
    cover = f"https://img.example.com/{k}.jpg" if rng.random() < cover_rate else ""
    html = body(rng, zh, size, cover)
    if word:
        html = f"<p>{word}</p>" + html
    raw = html
    if clean:
        from ...clean.sanitize import clean_html

        html = clean_html(raw, "https://origin.example.org/")
    e = Entry(source_key=src.key, id=item_id(guid=guid), title=title.strip(), link=f"https://origin.example.org/news/{k}.html",
              guid=guid, author=src.source, published=when, content=raw, cover=cover,
              tags=[src.category] if src.category else [])
    return e, html


def fill(store: Store, n: int, *, size: int = 1500, seed: int = 7, start: datetime | None = None,
         step_minutes: float = 7, sources: list[Source] | None = None, cover_rate: float = 0.7,
         clean: bool = False) -> list[Source]:
    """Add n items, newest at `start` (default 2024-06-30 12:00 UTC), spread `step_minutes` apart on
    average, round-robin-ish over `sources` (default: make_sources()); `clean`: see entry()."""
    rng = random.Random(seed)
    sources = sources or make_sources()
    store.sync_sources(sources)
    when = start or datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
    batch = []
    for k in range(n):
        src = sources[rng.randrange(len(sources))]
        batch.append(IngestRow(*entry(src, k, when, rng, size, cover_rate, clean=clean)))
        when -= timedelta(minutes=rng.uniform(0.2, 2 * step_minutes))
        if len(batch) >= 1000:
            store.upsert_entries(batch)
            batch = []
    if batch:
        store.upsert_entries(batch)
    return sources
