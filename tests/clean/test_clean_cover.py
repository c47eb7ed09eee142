"""pick_cover: explicit candidates first, then content images; no pixels, icons, QR codes."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tidings.clean import clean_html, load_rules, pick_cover

SEED_BASE = "https://finance.sina.com.cn/china/2022-03-14/doc-fixture-seed.shtml"
SEED_IMAGE = ("https://n.sinaimg.cn/sinakd20220314s/238/w640h398/20220314/"
              "fa43-890a8ad7c416df64a3e9dd392fe15a38.jpg")
SEED_QR = "https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png"


def seed_description() -> str:
    path = Path(__file__).parents[1] / "fixtures" / "clean" / "seed-feed.xml"
    return etree.parse(str(path)).findtext(".//item/description")


def test_seed_cover_from_raw_and_cleaned_html() -> None:
    raw = seed_description()
    assert pick_cover(raw, [], SEED_BASE) == SEED_IMAGE
    assert pick_cover(clean_html(raw, SEED_BASE), [], SEED_BASE) == SEED_IMAGE


def test_seed_qr_code_never_chosen() -> None:
    raw = seed_description().replace(SEED_IMAGE, "")  # only the QR image is left
    assert pick_cover(raw, [], SEED_BASE) == ""
    assert pick_cover(raw, [SEED_QR], SEED_BASE) == ""
    # even where the Sina rules do not apply, the known QR path is refused
    assert pick_cover(raw, [], "https://example.com/") == ""


def test_explicit_candidates_come_first() -> None:
    html = '<p><img src="https://example.com/in-content.jpg"></p>'
    assert pick_cover(html, ["https://example.com/enclosure.jpg"], "https://example.com/") == \
        "https://example.com/enclosure.jpg"
    assert pick_cover(html, ["", "/relative-thumb.jpg"], "https://example.com/a/b") == \
        "https://example.com/relative-thumb.jpg"


def test_unusable_candidates_fall_through_to_content() -> None:
    html = '<p><img src="https://example.com/story.jpg"></p>'
    bad = ["data:image/png;base64,AAAA", "https://www.facebook.com/tr?id=1", "https://example.com/qrcode.png",
           "https://example.com/icons/share.svg", "https://example.com/img/logo.png", "javascript:alert(1)",
           "https://example.com/blank.gif", "https://example.com/app_qr.jpg", "https://example.com/二维码.jpg"]
    assert pick_cover(html, bad, "https://example.com/") == "https://example.com/story.jpg"


@pytest.mark.parametrize("img", [
    '<img src="https://example.com/t.gif" width="1" height="1">',
    '<img src="https://example.com/icon.png" width="32" height="32">',
    '<img src="https://example.com/small.png" width="49">',
    '<img src="https://example.com/a.png" alt="扫描二维码下载客户端">',
    '<img src="https://example.com/a.png" class="wx-qrcode">',
    '<img src="https://example.com/a.png" class="appQr">',
    '<div class="footerQr"><img src="https://example.com/a.png"></div>',
    '<img src="data:image/jpeg;base64,' + "A" * 400 + '">',
    '<img src="https://example.com/emoji/smile.png">',
    '<img src="https://example.com/images/avatar_123.jpg">',
    '<img src="https://example.com/divider.svg">',
    '<img src="https://n.sinaimg.cn/x/w30h30/20220101/a.jpg">',
    '<img src="https://hm.baidu.com/hm.gif?si=1">',
])
def test_non_cover_images_skipped(img: str) -> None:
    html = f"<p>{img}</p><p><img src='https://example.com/photo.jpg' width='600' height='400'></p>"
    assert pick_cover(html, [], "https://example.com/") == "https://example.com/photo.jpg"
    assert pick_cover(f"<p>{img}</p>", [], "https://example.com/") == ""


def test_lazy_image_is_a_cover() -> None:
    html = '<img src="data:image/gif;base64,R0lGOD" data-original="/real.jpg">'
    assert pick_cover(html, [], "https://example.com/news/") == "https://example.com/real.jpg"


def test_image_in_removed_block_is_skipped() -> None:
    html = '<div class="promo"><img src="https://example.com/ad.jpg"></div><img src="https://example.com/story.jpg">'
    rules = load_rules({"example.com": {"remove": [".promo"]}})
    assert pick_cover(html, [], "https://example.com/", rules) == "https://example.com/story.jpg"
    assert pick_cover(html, [], "https://example.com/") == "https://example.com/ad.jpg"


def test_no_images_at_all() -> None:
    assert pick_cover("", [], "") == ""
    assert pick_cover("<p>text only</p>", [], "https://example.com/") == ""
    assert pick_cover("<p>text</p>", (), "") == ""


def test_protocol_relative_and_srcset_only() -> None:
    assert pick_cover('<img src="//cdn.example.com/a.jpg">', [], "") == "https://cdn.example.com/a.jpg"
    assert pick_cover('<img srcset="/a.jpg 1x, /b.jpg 2x">', [], "http://example.com/") == "http://example.com/a.jpg"


def test_clean_html_and_pick_cover_agree_without_hidden_shared_state() -> None:
    """The cover of cleaned HTML depends on that HTML alone: not on which clean_html ran last, in which
    thread, or whether the string is the very object clean_html returned."""
    import threading

    rules = load_rules()
    raw = seed_description()
    cleaned = clean_html(raw, SEED_BASE, rules)
    others = [f'<p>other {i}<img src="https://example.com/{i}.jpg" width="400"></p>' for i in range(64)]

    def interleave() -> None:
        for html in others:
            pick_cover(clean_html(html, "https://example.com/", rules), [], "https://example.com/", rules,
                       cleaned=True)

    worker = threading.Thread(target=interleave)
    worker.start()
    interleave()  # and in this thread, between clean_html(raw) and pick_cover below
    worker.join()
    copy = "".join(list(cleaned))  # equal text, another object
    assert copy is not cleaned
    covers = {pick_cover(cleaned, [], SEED_BASE, rules, cleaned=True),
              pick_cover(copy, [], SEED_BASE, rules, cleaned=True),
              pick_cover(cleaned, [], SEED_BASE, rules),  # read as any HTML: the rules run again
              pick_cover(clean_html(raw, SEED_BASE, rules), [], SEED_BASE, rules, cleaned=True)}
    assert covers == {SEED_IMAGE}
