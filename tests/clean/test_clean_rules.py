"""Per-site rules: data format, host matching, merging with the user's rules."""
from __future__ import annotations

import lxml.html
import pytest

from tidings.clean import RulesError, clean_html, load_rules, shipped_rules

PAGE = ('<p>story</p><div class="promo">BUY</div><p class="byline">by X</p>'
        '<!--ad[<p>hidden ad</p>]ad--><section class="wrap"><p>inner</p></section>')


def text(html: str) -> str:
    return lxml.html.fragment_fromstring(html, create_parent="div").text_content() if html else ""


def test_shipped_rules_cover_sina() -> None:
    rules = shipped_rules()
    for host in ("sina.com.cn", "sina.cn"):
        rule = rules[host]
        assert ".appendQr_wrap" in rule.remove
        assert "p.article-editor" in rule.remove
        assert any("article_adlist" in p for p in rule.drop_patterns)
        assert any("news_keyword_pub" in p for p in rule.drop_patterns)


def test_rule_applies_to_subdomains_only() -> None:
    rules = load_rules({"example.com": {"remove": [".promo"]}})
    assert "BUY" not in clean_html(PAGE, "https://example.com/a", rules)
    assert "BUY" not in clean_html(PAGE, "https://news.example.com/a", rules)
    assert "BUY" not in clean_html(PAGE, "https://a.b.example.com:8443/a", rules)
    assert "BUY" in clean_html(PAGE, "https://notexample.com/a", rules)
    assert "BUY" in clean_html(PAGE, "https://example.com.evil.net/a", rules)
    assert "BUY" in clean_html(PAGE, "", rules)


def test_remove_unwrap_and_drop_patterns() -> None:
    rules = load_rules({"example.com": {
        "remove": [".promo", "p.byline"], "unwrap": ["section.wrap"], "drop_patterns": [r"<!--ad\[.*?\]ad-->"],
    }})
    out = clean_html(PAGE, "https://example.com/", rules)
    assert [p.text_content() for p in lxml.html.fragment_fromstring(out, create_parent="div").iter("p")] == [
        "story", "inner"]
    assert "<section" not in out


def test_drop_patterns_run_on_raw_html_before_parsing() -> None:
    # A pattern can cut across tags (here: from a marker comment to the end of a block).
    html = "<p>keep</p><!-- 广告 start --><div><p>ad text</p></div><!-- 广告 end --><p>keep too</p>"
    rules = load_rules({"example.com": {"drop_patterns": ["<!-- 广告 start -->.*?<!-- 广告 end -->"]}})
    assert text(clean_html(html, "https://example.com/", rules)) == "keepkeep too"
    assert "ad text" in text(clean_html(html, "https://example.com/"))


def test_user_rule_extends_shipped_rule() -> None:
    rules = load_rules({"sina.com.cn": {"remove": [".promo"]}})
    rule = rules.rules["sina.com.cn"]
    assert ".promo" in rule.remove and ".appendQr_wrap" in rule.remove
    out = clean_html(PAGE + '<div class="appendQr_wrap">QR</div>', "https://finance.sina.com.cn/x", rules)
    assert "BUY" not in out and "QR" not in out


def test_user_rule_with_replace_replaces_shipped_rule() -> None:
    rules = load_rules({"sina.com.cn": {"replace": True, "remove": [".promo"]}})
    assert rules.rules["sina.com.cn"].remove == (".promo",)
    out = clean_html(PAGE + '<div class="appendQr_wrap">QR</div>', "https://finance.sina.com.cn/x", rules)
    assert "BUY" not in out and "QR" in text(out)
    # the shipped sina.cn rule is untouched
    assert ".appendQr_wrap" in rules.rules["sina.cn"].remove


def test_rules_for_parent_and_subdomain_combine() -> None:
    rules = load_rules({"example.com": {"remove": [".promo"]}, "news.example.com": {"remove": ["p.byline"]}})
    sub = clean_html(PAGE, "https://news.example.com/", rules)
    assert "BUY" not in sub and "by X" not in sub
    parent = clean_html(PAGE, "https://example.com/", rules)
    assert "BUY" not in parent and "by X" in parent


def test_star_rule_applies_everywhere() -> None:
    rules = load_rules({"*": {"remove": [".promo"]}})
    assert "BUY" not in clean_html(PAGE, "https://anything.example/", rules)
    assert "BUY" not in clean_html(PAGE, "", rules)


def test_host_keys_are_normalised() -> None:
    rules = load_rules({"Example.COM.": {"remove": [".promo"]}, "https://other.example/path": {"remove": [".x"]},
                        "*.third.example": {"remove": [".y"]}})
    assert {"example.com", "other.example", "third.example"} <= set(rules.rules)
    assert "BUY" not in clean_html(PAGE, "https://EXAMPLE.com/", rules)


@pytest.mark.parametrize("bad,message", [
    ({"x.com": {"remov": [".a"]}}, "unknown key"),
    ({"x.com": {"remove": ["p[["]}}, "bad CSS selector"),
    ({"x.com": {"drop_patterns": ["(unclosed"]}}, "bad regex"),
    ({"x.com": {"remove": [1, 2]}}, "list of strings"),
    ({"x.com": ["not", "a", "mapping"]}, "expected a mapping"),
    ({"x.com": {"replace": "yes"}}, "true or false"),
])
def test_bad_user_rules_are_refused_with_the_host_named(bad: dict, message: str) -> None:
    with pytest.raises(RulesError) as e:
        load_rules(bad)
    assert message in str(e.value) and "x.com" in str(e.value)


def test_load_rules_without_extra_is_the_shipped_set() -> None:
    assert load_rules().rules == {h: r for h, r in shipped_rules().items() if r}
    assert load_rules(None).rules == load_rules({}).rules
