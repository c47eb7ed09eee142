"""Throughput of the clean step (not a test; run: .venv/bin/python tests/clean/bench_clean.py).

Per item: clean_text on title, clean_html on the ~5 KB body, pick_cover on the result, i.e. what
pipeline.Cleaner does. Items: the Sina seed item plus generated ~5 KB news items with images
(some lazy), links with tracking parameters, a pixel, a table, a QR block and an iframe.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from lxml import etree

from tidings.clean import clean_html, clean_text, load_rules, pick_cover

SEED = Path(__file__).parents[1] / "fixtures" / "clean" / "seed-feed.xml"
SEED_BASE = "https://finance.sina.com.cn/china/2022-03-14/doc-fixture-seed.shtml"


def generated(i: int) -> str:
    para = ("　　据新华社报道，第{i}号台风今年首次登陆华南沿海，当地气象部门发布橙色预警，沿海渔船全部回港避风，"
            "多所学校停课一天，交通运输部门加强了道路巡查。")
    parts = ['<div class="article" id="artibody" style="font-size:16px">']
    for k in range(16):
        parts.append(f'<p class="p{k}" style="text-indent:2em">{para.format(i=i + k)}</p>')
        if k == 2:
            parts.append(f'<figure class="img"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" '
                         f'data-src="/photos/2024/{i}/{k}.jpg" alt="现场图片{k}" width="640" height="427">'
                         f'<figcaption>图为现场（记者 摄）</figcaption></figure>')
        if k == 5:
            parts.append(f'<p><a href="https://m.example.com/app?id={i}&utm_source=rss&spm=a.b.c&from=feed" '
                         f'onclick="track()">下载客户端</a> <a href="/news/{i}.html">相关新闻</a></p>')
        if k == 7:
            parts.append('<table class="data"><tr><th>城市</th><th>降雨量</th></tr>'
                         '<tr><td>广州</td><td>120mm</td></tr><tr><td>深圳</td><td>98mm</td></tr></table>')
    parts.append('<iframe src="//player.bilibili.com/player.html?bvid=BV1xx" width="640"></iframe>')
    parts.append('<script>var _hmt = _hmt || [];</script><img src="https://hm.baidu.com/hm.gif?si=1" width="1">')
    parts.append('<div class="qr"><img src="/static/qrcode.png" alt="扫码下载"></div></div>\n\n\n')
    return "\n".join(parts)


def main() -> None:
    seed = etree.parse(str(SEED)).findtext(".//item/description")
    items = [(seed, SEED_BASE)] + [(generated(i), f"https://news.example.com/2024/{i}.html") for i in range(49)]
    sizes = [len(h.encode("utf-8")) for h, _ in items]
    rules = load_rules()
    title = "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会"

    def one(html: str, base: str) -> None:
        clean_text(title)
        out = clean_html(html, base, rules)
        pick_cover(out, [], base, rules)

    def rate(fn, rounds: int = 30) -> tuple[float, float]:
        """(best, median) items/s over `rounds` passes through all items. The best pass is the
        figure for one undisturbed core; the median shows what a busy machine gives."""
        per = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for html, base in items:
                fn(html, base)
            per.append(len(items) / (time.perf_counter() - t0))
        return max(per), statistics.median(per)

    for html, base in items:  # warm up caches
        one(html, base)
    step = rate(one)
    alone = rate(lambda h, b: clean_html(h, b, rules))
    print(f"python {sys.version.split()[0]}, {len(items)} items of {min(sizes)}-{max(sizes)} bytes "
          f"(mean {statistics.mean(sizes):.0f})")
    print(f"clean step (clean_text + clean_html + pick_cover): best {step[0]:,.0f} items/s, "
          f"median {step[1]:,.0f}")
    print(f"clean_html alone: best {alone[0]:,.0f} items/s, median {alone[1]:,.0f}")


if __name__ == "__main__":
    main()
