"""fingerprints_of shingles a feed's leads together (near._letter_rows); each lead's shingle values must be
exactly those of the one-lead reference (near._shingles_of), or stored fingerprints would stop matching."""
from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from tidings.stories import near
from tidings.stories.near import LEAD_CJK, LEAD_LATIN, fingerprints_of, read_lead

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]

# Titles and texts that take every branch: short titles and leads, no letters at all, characters whose lower
# case is special (İ, Σ), astral ones (emoji, CJK extension B), accents, full-width forms, kana, hangul,
# underscores, figures, and texts longer than a lead.
ODD = [
    ("", ""), ("A", ""), ("", "Body only, no title at all."), ("Ab", "Cd"), ("新闻", "短"), ("…", "——！"),
    ("İstanbul İzmir", "İSTANBUL (Reuters) - Turkey's central bank held rates."),
    ("ΣΟΦΙΑ Σ", "ΟΔΥΣΣΕΑΣ ΣΕ ΜΙΑ ΝΥΧΤΑ Σ."), ("Rocket 🚀 launch", "SpaceX 🚀 launched Starship on Tuesday."),
    ("𠀀𠀁字典扩展", "𠀀字在文本里出现，统计局发布10月份数据。"),
    ("Café São Paulo", "Straße Ærø Ωmega — “smart quotes” and naïve résumé, Ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ 123."),
    ("東京の天気", "きょうは晴れ。カタカナもひらがなも。"), ("서울 뉴스", "한국은행은 기준금리를 동결했다."),
    ("snake_case_title", "under_score __init__ and 10_000 items"),
    ("国家统计局：10月份制造业PMI为50.1%", "10月份，制造业采购经理指数（PMI）为50.1%，比上月上升0.3个百分点。" * 8),
    ("Fed holds rates", "The Federal Reserve held rates steady on Wednesday. " * 20),
    ("عدد ٣٤٥ and 2024", "Digits other than 0-9: ٣٤٥ people, १२ houses, 4.5% and ١٢٫٥ per cent in 2024."),
]


def _leads() -> list[near.Lead]:
    rng = random.Random(5)
    texts = [(o["title"], o["text"]) for o in ITEMS] + ODD
    mixed = [(t + rng.choice(["", " 🚀", " İ", "Σ"]), rng.choice(["", "短", x, x[: rng.randrange(1, 40)]]))
             for t, x in texts]
    return [read_lead(t, x) for t, x in texts + mixed]


LEADS = _leads()


@pytest.mark.parametrize("cjk,n,size", [(True, 3, LEAD_CJK), (False, 5, LEAD_LATIN)])
def test_batched_shingles_are_the_one_lead_reference(cjk, n, size):
    leads = [lead for lead in LEADS if lead.cjk is cjk]
    flat, done, counts = near._letter_rows(leads, n, size)
    assert len(done) >= len(leads) // 3 and len(set(done)) == len(done)
    rows = np.split(flat, np.cumsum(counts)[:-1])
    for k, row in zip(done, rows):
        assert np.array_equal(row, near._shingles_of(leads[k])), leads[k]
    left_out = [leads[k] for k in set(range(len(leads))) - set(done)]
    assert left_out, "the odd texts must take the one-lead path too"
    for lead in left_out:  # only what the batch cannot do exactly: astral or special characters, short pieces
        title, text = near._letters(lead.title), near._letters(lead.text)[:size]
        odd = any(ord(c) > 0xFFFF or c in "İΣ" or (c.isdecimal() and not c.isascii()) for c in lead.title + lead.text)
        assert odd or len(title) < n or len(text) < n, lead


def test_a_feed_at_once_gives_each_lead_its_own_fingerprint():
    alone = [fingerprints_of([lead])[0] for lead in LEADS]
    assert fingerprints_of(LEADS) == alone
    assert fingerprints_of(LEADS[::-1]) == alone[::-1]
    assert fingerprints_of([]) == []
    assert [fp.empty for fp in fingerprints_of([read_lead("", ""), read_lead("…", "——")])] == [True, True]


def test_one_lead_fingerprint_is_the_reference_signature():
    from rensa import RMinHash

    for lead in LEADS:
        values = near._shingles_of(lead)
        fp = fingerprints_of([lead])[0]
        if not values.size:
            assert fp.empty
            continue
        row = RMinHash.digest_matrix_from_flat_token_hashes(values, [0, values.size], near.SIG_PERMS,
                                                            near.SEED).to_rows()[0]
        assert fp.sig == np.array(row, dtype="<u4").tobytes()


def test_letter_table_is_what_letters_does_to_each_character():
    table = near._letter_table()
    for c in [*range(0x3000), *range(0x3000, 0x10000, 7)]:
        ch = chr(c)
        if 0xD800 <= c < 0xE000:
            continue
        want = near._letters(ch)
        got = int(table[c])
        if got == near._SPECIAL:
            assert len(want) != 1 or c == 0x3A3 or (c > 0x7F and ch.isdecimal()), hex(c)
        else:
            assert (chr(got) if got else "") == want, hex(c)


def test_marks_are_those_of_the_unicode_digit_pattern():
    # fingerprints_of reads marks with [0-9] where _letter_table says there are no other digits; \d elsewhere
    for lead in LEADS:
        size = LEAD_CJK if lead.cjk else LEAD_LATIN
        want = near.extract_marks(lead.title + "\n" + lead.text[: int(1.2 * size)])
        assert fingerprints_of([lead])[0].marks == want, lead
    other = read_lead("Count ٣٤٥ and ٢٠٢٤", "In ٢٠٢٤, ٣٤٥ people and 12 houses, 4.5% up.")
    assert near.extract_marks("٣٤٥ ٢٠٢٤ 4.5%") == ("4.5%", "٢٠٢٤", "٣٤٥")  # \d reads them, [0-9] does not
    assert near.extract_marks("٣٤٥ ٢٠٢٤ 4.5%", ascii_digits=True) == ("4.5%",)
    assert fingerprints_of([other])[0].marks == ("12", "4.5%", "٢٠٢٤", "٣٤٥")


def test_nfkc_is_the_reference_rule():
    # near.nfkc skips text that is already NFKC before it scans for the characters it would change
    def reference(s: str) -> str:
        return s if s.isascii() or not near._NEEDS_NFKC.search(s) else unicodedata.normalize("NFKC", s)

    texts = [lead.title for lead in LEADS] + [s for pair in ODD for s in pair] + [
        "“Curly” quotes — and an em dash", "ﬁne ligature", "Ｆｕｌｌ ｗｉｄｔｈ", "x² and ½", "e\u0301 combining",
        "中文，全角逗号", "①②③", "㍿ ㈱", "ｶﾀｶﾅ", "plain ascii", "", "\u3000ideographic space"]
    for s in texts:
        assert near.nfkc(s) == reference(s), s


def test_is_cjk_text_is_the_reference_count():
    # near.is_cjk_text decides without counting when it can (no Latin letters; too few other characters)
    def reference(s: str) -> bool:
        if s.isascii():
            return False
        cjk = len(s) - len(near._CJK_CHARS.sub("", s))
        latin = len(s.encode("ascii", "ignore").translate(None, near._ASCII_NON_LETTER))
        return cjk > 0 and cjk * 2 >= latin

    rng = random.Random(12)
    pieces = ["中文", "字", "PMI", "a", "GDP增长", "，", "。", "“", "é", "Ж", "かな", "한국", "𠀀", "12", " ", "news"]
    texts = [lead.title + lead.text[:120] for lead in LEADS]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    assert {near.is_cjk_text(s) for s in texts} == {True, False}
    for s in texts:
        assert near.is_cjk_text(s) == reference(s), s
