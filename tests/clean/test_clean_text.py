"""clean_text / repair_mojibake: repair what is broken, never touch what is right."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.clean import clean_text, repair_mojibake, strip_invalid_xml

CHINESE = [
    "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会",
    "据《吉林日报》报道，景俊海提出了7个“绝对到位”，分别是：核酸筛查必须绝对到位；",
    "3月13日0-24时，长春市新增本地确诊病例430例（含22例无症状感染者转为确诊病例）",
    "新华社北京3月14日电 — 国务院常务会议……",
    "澎湃新闻记者 钟煜豪",
]
CORRECT = CHINESE + [
    "Größe Größe", "Über 50 % der Bürger wählten „Grün“.", "Straße“", "„Straß“", "Mädchen für alles",
    "ÄÖÜäöüß", "Élève à l’école — «Où êtes-vous ?»", "naïve café déjà réélu étés", "CAFÉ… très bien",
    "Ça coûte 5 €, n’est-ce pas ?", "À « Noël », l’été", "São Paulo — ÉCOLE “X”", "Ærøskøbing",
    "Ñandú £100 © 2024 ½ °C ±5 µm", "中文·测试×2", "Ö’s", "Æ“", "Ì", "Â", "Привет мир", "Ελληνικά",
    "😀 emoji ok", "plain ASCII, nothing to see", "",
]


def latin1(s: str) -> str:
    return s.encode("utf-8").decode("latin-1")


def windows1252(b: bytes) -> str:
    """Browsers' windows-1252: the five undefined bytes map to the C1 controls."""
    return "".join(chr(x) if x in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([x]).decode("cp1252") for x in b)


@pytest.mark.parametrize("text", CORRECT)
def test_correct_text_unchanged(text: str) -> None:
    assert repair_mojibake(text) == text
    assert clean_text(text) == text


@pytest.mark.parametrize("text", CHINESE + ["café crème", "Größe", "“quoted” — dash…", "Привет", "😀 ok"])
def test_utf8_read_as_latin1_repaired(text: str) -> None:
    broken = latin1(text)
    assert broken != text
    assert repair_mojibake(broken) == text


@pytest.mark.parametrize("text", CHINESE + ["café crème", "Größe", "“quoted” — dash…", "Привет", "😀 ok"])
def test_utf8_read_as_cp1252_repaired(text: str) -> None:
    broken = windows1252(text.encode("utf-8"))
    assert broken != text
    assert repair_mojibake(broken) == text


@pytest.mark.parametrize("text", CHINESE + ["café crème", "Größe"])
def test_double_encoded_utf8_repaired(text: str) -> None:
    twice = windows1252(windows1252(text.encode("utf-8")).encode("utf-8"))
    assert repair_mojibake(twice) == text
    assert repair_mojibake(latin1(latin1(text))) == text


@pytest.mark.parametrize("text", CHINESE)
def test_gbk_read_as_latin1_repaired(text: str) -> None:
    broken = text.encode("gbk").decode("latin-1")
    assert broken != text
    assert repair_mojibake(broken) == text


def test_mojibake_inside_html_markup() -> None:
    html = '<p class="x">　　长春市委书记凌晨2点开会</p><img alt="图" src="/a.jpg">'
    assert repair_mojibake(latin1(html)) == html
    assert clean_text(html.encode("gbk").decode("latin-1")) == html


def test_strip_invalid_xml() -> None:
    assert strip_invalid_xml("a\x00b\x01c\x08d\x0be\x0cf\x1fg\ufffeh\uffffi") == "abcdefghi"
    assert strip_invalid_xml("tab\tnl\ncr\r") == "tab\tnl\ncr\r"
    assert strip_invalid_xml("lone\ud800high\udc00low") == "lonehighlow"
    assert strip_invalid_xml("pair\ud83d\ude00joined") == "pair😀joined"
    assert clean_text("x\x00y") == "xy"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5) | st.sampled_from(
    list("，。“”：；（）《》—…0123456789 ABCabc")), min_size=2, max_size=60))
def test_chinese_roundtrip_property(text: str) -> None:
    assert repair_mojibake(text) == text  # correct text untouched
    assert repair_mojibake(latin1(text)) == text  # UTF-8 mojibake always repaired


_GBK_CHARS = [c for c in (chr(i) for i in range(0x4E00, 0x9FA6)) if len(c.encode("gb2312", "ignore")) == 2]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_GBK_CHARS[:3000]), min_size=3, max_size=40))
def test_gbk_roundtrip_property(text: str) -> None:
    assert repair_mojibake(text.encode("gbk").decode("latin-1")) == text


_EURO_WORDS = ("Größe", "für", "Straße", "Mädchen", "über", "café", "déjà", "été", "naïve", "Ærø", "señor",
               "coração", "ÉCOLE", "À", "Noël", "l’été", "«", "»", "„", "“", "”", "…", "—", "£5", "€", "°C",
               "the", "und", "le", "de", ",", ".")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_EURO_WORDS), min_size=1, max_size=12))
def test_european_text_never_damaged(words: list[str]) -> None:
    text = " ".join(words)
    assert repair_mojibake(text) == text
