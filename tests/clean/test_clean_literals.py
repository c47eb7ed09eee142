"""GuardedPattern: the literal pre-check never refuses a text its regex matches, so search and sub give what
the bare regex gives (on the URL lists' patterns, the shipped drop_patterns and patterns of every shape the
literal reader handles)."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.clean.literals import GuardedPattern, necessary_literals
from tidings.clean.rules import default_rules
from tidings.clean.urls import lists

_L = lists()
_SHIPPED = [g.regex for g in (_L.pixel_url_re, _L.placeholder_re, _L.qr_re, _L.icon_re)]
_SHAPES = [
    r"ab(c|de)+f", r"x(?:foo|ba(r|z))y", r"(?:a|)bc", r"q(?i:ab)c", r"(?>abc)d", r"k{2,3}lm", r"(ab)*cd",
    r"[ab]cd|ef", r"a.b", r"(?=ab)abc", r"\d+px", r"n\.sinaimg\.cn/", r"^about:blank$", r"二维码|erweima",
]


def _drop_regexes() -> list[re.Pattern[str]]:
    rules = default_rules()
    return list({g.regex: None for host in rules.rules for g in rules.for_host(host.strip("*.")).drop})


PATTERNS = _SHIPPED + _drop_regexes() + [re.compile(p, re.S) for p in _SHAPES]


def test_the_shipped_patterns_get_guards() -> None:
    # The point of the guard: without literals every URL would still go through the regex.
    for regex in _SHIPPED + _drop_regexes():
        assert necessary_literals(regex), regex.pattern
    assert necessary_literals(re.compile("(?i)abc")) is None
    assert necessary_literals(re.compile("abc", re.I)) is None
    assert necessary_literals(re.compile("q(?i:ab)c")) in (("q",), ("c",))
    assert necessary_literals(re.compile(r"\d+|ab")) is None
    assert necessary_literals(re.compile(r"x(?:foo|ba(r|z))y")) == ("ba", "foo")


@pytest.mark.parametrize("regex", PATTERNS, ids=lambda r: r.pattern[:40])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_match_holds_a_literal(regex: re.Pattern[str], data: st.DataObject) -> None:
    text = data.draw(st.from_regex(regex))
    assert regex.search(text)
    literals = necessary_literals(regex)
    assert literals is None or any(lit in text for lit in literals)
    assert GuardedPattern(regex).search(text) is not None


def _near_texts(regex: re.Pattern[str]) -> st.SearchStrategy[str]:
    # Pieces of the pattern's own literals and characters, shuffled: texts that nearly match, or do.
    pieces = list(necessary_literals(regex) or ()) + list(set(re.sub(r"[\\()|?*+.\[\]{}^$:]", "", regex.pattern)))
    return st.lists(st.sampled_from(pieces + ["/", ".", "-", "_", "?", "#", "\n", "A"]), max_size=25).map("".join)


@pytest.mark.parametrize("regex", PATTERNS, ids=lambda r: r.pattern[:40])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_guarded_search_and_sub_are_the_regex(regex: re.Pattern[str], data: st.DataObject) -> None:
    text = data.draw(st.one_of(_near_texts(regex), st.text(max_size=40)))
    guarded = GuardedPattern(regex)
    found, expected = guarded.search(text), regex.search(text)
    assert (found and found.span()) == (expected and expected.span())
    assert guarded.sub("", text) == regex.sub("", text)
