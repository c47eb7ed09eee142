"""Session 11's cheaper paths of describe, each against the path it replaces, on generated text (English,
Chinese and odd characters): they must give the same words, keywords and bytes."""
from __future__ import annotations

import random
import re

import pytest

from tidings.stories import keywords as kw
from tidings.stories import near

# Characters that decide where an English word starts and ends: letters and digits, the joiners (' ’ . - &),
# the "'s" a word never takes, word characters outside ASCII ("_", "é", "图", a full-width digit) and \x01
# (which the fast path uses as ’ internally)
ODD = list("aBsSxY09 .'’-&;:()\"“”!?_é图０\x01\t\n") + ["'s", "’s", "U.S.", "3.5%", "Paul's", "well-known", "P&G"]
WORDS = ("Federal Reserve Chair Jerome Powell said the U.S. economy grew 3.5% in Q3 while AI stocks rose "
         "Apple's revenue P&G well-known St. Louis the EU's 2024 G20 4th 10-K x86 e.g. naïve café").split()


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(ODD) for _ in range(rng.randint(0, 30))))
        else:  # English-like text with odd characters between words
            out.append("".join(rng.choice(WORDS) + rng.choice([" ", " ", " ", ", ", ". ", "’s ", "_", "图", "é"])
                               for _ in range(rng.randint(1, 60))))
    return out


def test_en_words_are_the_regex_words():
    for s in _texts(11, 40000):
        assert kw._en_words(s) == kw._EN_WORD.findall(s), repr(s)


@pytest.mark.parametrize("max_tags", [1, 5])
def test_english_keywords_with_the_fast_words_are_those_of_the_regex(monkeypatch, max_tags):
    texts = _texts(12, 3000)
    pairs = list(zip(texts[::2], texts[1::2]))
    fast = [kw._keywords_en(t.strip(), x, max_tags) for t, x in pairs]
    monkeypatch.setattr(kw, "_en_words", kw._EN_WORD.findall)
    assert fast == [kw._keywords_en(t.strip(), x, max_tags) for t, x in pairs]
    assert sum(1 for k in fast if k) > len(pairs) // 2


# --- boilerplate: the gate scan's branches by first character --------------------------------------------

def test_gate_scan_finds_what_the_flat_alternation_finds():
    flat = re.compile("|".join(map(re.escape, near._GATES)))
    assert flat.pattern != near._GATE_RX.pattern
    rng = random.Random(9)
    pieces = [*near._GATES, *(g[:-1] for g in near._GATES if len(g) > 1), *(g[1:] for g in near._GATES),
              "日", "电", "来源：", "(", ")", " ", "图", "é", "\n", "Reuters", "- ", "By"]
    for _ in range(20000):
        s = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert near._GATE_RX.findall(s) == flat.findall(s), repr(s)


# --- Chinese keywords: the scores by one comprehension, the nested-word test by a loop ---------------------

def _keywords_zh_reference(title: str, text: str, max_tags: int, words: dict[str, None], ok: dict[str, float]):
    """keywords._keywords_zh as it was (maps over bound methods, any() of a generator)."""
    lead = text[:kw.ZH_LEAD]
    cands = list(filter(ok.__getitem__, words))
    neg = [-(kw.TITLE_WEIGHT * t + n) * w for t, n, w in zip(map(title.count, cands), map(lead.count, cands),
                                                             map(ok.__getitem__, cands))]
    out: list[str] = []
    for w in map(cands.__getitem__, sorted(range(len(cands)), key=neg.__getitem__)):
        if any(w in o or o in w for o in out):
            continue
        out.append(w)
        if len(out) == max_tags:
            break
    return out


@pytest.mark.parametrize("max_tags", [1, 3, 5])
def test_chinese_keywords_are_those_of_the_reference_scorer(max_tags):
    rng = random.Random(13)
    vocab = ["制造业", "制造业PMI", "PMI", "国家统计局", "统计", "地震", "积石山", "茅台", "神舟", "十九号", "台风",
             "中央气象台", "快递", "业务量", "记者", "表示", "49.5%", "10月", "Apple", "é", "图", "０", "，", "。", " "]
    leads = []
    for _ in range(600):
        title = "".join(rng.choice(vocab) for _ in range(rng.randint(1, 8)))
        text = "".join(rng.choice(vocab) for _ in range(rng.randint(0, 120)))
        leads.append(near.read_lead(title, text))
    zh = [lead for lead in leads if lead.cjk]
    titles = [lead.title.strip() for lead in zh]
    segmented = [kw._zh_segment(t, lead.text) for t, lead in zip(titles, zh)]
    ok = kw._zh_memo(segmented)
    fast = [kw._keywords_zh(t, lead.text, max_tags, w, ok) for t, lead, w in zip(titles, zh, segmented)]
    assert fast == [_keywords_zh_reference(t, lead.text, max_tags, w, ok) for t, lead, w in zip(titles, zh, segmented)]
    assert len(zh) > 400 and sum(len(k) == max_tags for k in fast) > len(zh) // 2
