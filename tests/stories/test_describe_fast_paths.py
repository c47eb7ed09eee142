"""The describe step's fast paths (brief H3) against the code they short-cut: each must give the same values."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.model import Entry
from tidings.stories import keywords as kw
from tidings.stories import near
from tidings.stories.assign import CJK_HEAD, StoryStage, _cjk_plain_text, plain_text
from tidings.stories.near import LEAD_CJK, RAW_CJK, fingerprint_bytes_of, fingerprints_of, read_lead

from .test_near_batch import LEADS


@dataclass(frozen=True)
class _On:
    enabled: bool
    threshold: float = 0.4


@dataclass(frozen=True)
class _Tags:
    enabled: bool
    max: int


def test_fingerprint_bytes_are_the_fingerprints_to_bytes():
    expected = [fp.to_bytes() for fp in fingerprints_of(LEADS)]
    assert fingerprint_bytes_of(LEADS) == expected
    assert fingerprint_bytes_of(LEADS[::-1]) == expected[::-1]
    assert fingerprint_bytes_of([]) == []
    # empty fingerprints, marks of several sizes (the packing layout depends on it) and none
    assert any(fp.empty for fp in fingerprints_of(LEADS)) and len({len(fp.marks) for fp in fingerprints_of(LEADS)}) > 3
    for lead, blob in zip(LEADS, expected):
        assert fingerprint_bytes_of([lead]) == [blob]


# --- a Chinese/Japanese item's text from a shorter window (assign._cjk_plain_text) -----------------------------

_SAFE = ["<p>", "</p>", "\u3000\u3000", "<div><img src=\"https://n.sinaimg.cn/x/1.jpg\" alt=\"图\"></div>", " ", "\n",
         "<br/>", "<!-- 注释 -->", "<span title='1>0'>", "x > y", "Fed", "10月份制造业PMI为50.1%，", "国家统计局发布数据显示。"]
# what the shortcut must notice: entities, stray "<" (closing further on, or never), a tag with an entity inside
_HAZARDS = ["<", "&amp;", "&lt;b&gt;", "&nbsp;", "a < b", "<a href='u?a=1&b=2'>链接</a>", "&#12288;", "<b", ">"]
_PIECES = _SAFE + _HAZARDS


def _html(rng: random.Random) -> str:
    # Mostly Chinese text with tags, and now and then what breaks the window's shortcut; any length around
    # CJK_HEAD, so that tags are cut at the window's edge.
    out: list[str] = []
    size = rng.choice([100, CJK_HEAD - 40, CJK_HEAD, CJK_HEAD + 30, 1500, 5000])
    while sum(map(len, out)) < size:
        r = rng.random()
        if r < 0.5:
            out.append("".join(rng.choice("经济数据市场发布银行科技，。： ") for _ in range(rng.randrange(1, 80))))
        else:
            out.append(rng.choice(_HAZARDS if r < 0.505 else _SAFE))
    return "".join(out)


def _stray_lt_then_a_tag_at_the_edge() -> list[str]:
    """A "<" that no ">" closes inside the window but a tag's ">" closes beyond it: a wider window drops all
    between them, so the window's text is not a start of plain_text's."""
    before = "<p>" + "经" * 350 + " a < b "
    return [before + "济" * (CJK_HEAD - len(before) - k) + "<p>" + "数" * 900 for k in (1, 2)]  # "<" or "<p" at the edge


def test_the_cjk_window_text_starts_plain_text():
    for html in _stray_lt_then_a_tag_at_the_edge():
        assert _cjk_plain_text(html) is None
        assert not plain_text(html).startswith(" ".join(html[:CJK_HEAD - 3].replace("<p>", " ").split()))
    rng = random.Random(14)
    taken = 0
    for _ in range(4000):
        html = _html(rng)
        text = _cjk_plain_text(html)
        if text is not None:
            taken += 1
            assert len(text) >= RAW_CJK and plain_text(html).startswith(text), html
    assert 400 < taken < 3000  # both ways are taken


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES + ["经济数据", "市场发布银行科技" * 9, "。" * 30]), max_size=60))
def test_the_cjk_window_text_starts_plain_text_hypothesis(pieces):
    html = "".join(pieces)
    text = _cjk_plain_text(html)
    if text is not None:
        assert len(text) >= RAW_CJK and plain_text(html).startswith(text)


def test_describe_many_reads_each_item_as_plain_text_and_read_lead_do():
    rng = random.Random(3)
    titles = ["国家统计局：10月份制造业PMI为50.1%", "Fed holds rates", "東京の天気", "Café 新闻 mixed",
              "新闻标题", "", "中文 title with English text"]
    items = []
    for k in range(300):
        html = _html(rng)
        if k % 7 == 0:
            html = "<p>" + "The Federal Reserve held rates steady on Wednesday. " * 30 + "</p>"  # CJK title, Latin text
        title = titles[k % len(titles)]
        items.append((Entry(source_key="k", id=str(k), title=title, link="", guid=str(k), content=html), html))
    stage = StoryStage(_On(True), _Tags(True, 5))
    expected = []
    for e, html in items:
        lead = read_lead(e.title, plain_text(html or e.content))  # the reference: the whole plain text
        fp = fingerprints_of([lead])[0].to_bytes()
        expected.append((tuple(kw.keywords_of(lead, 5)), fp))
    assert stage.describe_many(items) == expected


# --- a batch of Chinese/Japanese leads shingled from their first _READ_CJK characters ----------------------------

def _cjk_leads() -> list[near.Lead]:
    rng = random.Random(8)
    words = ["经济", "数据", "市场", "，", "。", " ", "——", "、", "10月", "PMI", "50.1%", "（完）", "…" * 5, " " * 9]
    leads = [lead for lead in LEADS if lead.cjk]
    for _ in range(300):  # punctuation and spaces thick or thin: fewer or more than LEAD_CJK letters in the window
        text = "".join(rng.choice(words[:3] if rng.random() < 0.4 else words) for _ in range(rng.randrange(1, 200)))
        leads.append(read_lead("新闻标题" + rng.choice(["", "：国家统计局"]), text))
    return [lead for lead in leads if lead.cjk]


def test_cjk_leads_shingled_from_their_start_are_the_one_lead_reference():
    leads = _cjk_leads()
    flat, done, counts = near._letter_rows(leads, 3, LEAD_CJK, near._READ_CJK)
    rows = np.split(flat, np.cumsum(counts)[:-1])
    for k, row in zip(done, rows):
        assert np.array_equal(row, near._shingles_of(leads[k])), leads[k]
    whole = set(near._letter_rows(leads, 3, LEAD_CJK)[1])
    left_for_the_rest = whole.difference(done)  # their window held too few letters
    assert left_for_the_rest and set(done) <= whole
    for k in left_for_the_rest:
        assert len(near._letters(leads[k].text[:near._READ_CJK])) < LEAD_CJK and len(leads[k].text) > near._READ_CJK
    assert [fp.to_bytes() for fp in fingerprints_of(leads)] == [fingerprints_of([x])[0].to_bytes() for x in leads]
