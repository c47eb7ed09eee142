"""near._mark's whole-number path (no regex) against the way every figure was read before (`_mark_reference`),
on the figures the marks' regexes find in generated text and in the labelled stories."""
from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.stories import near

DATA = Path(__file__).parent / "data" / "labelled.jsonl"
# digits (ASCII, full-width, Arabic-Indic), separators, spaces \s takes (and \x1c, which str.isspace calls one too),
# units, and letters around them
PIECES = [*"0123456789", "０", "٣", ".", ",", " ", "\u3000", "\t", "\x1c", "\n", "年", "月", "日", "号", "%", "％",
          "亿", "万", "级", "人", "个百分点", " percent", " per cent", " billion", "bn", "million", "q", "Q", "a", "中"]


def _both(found: str) -> tuple[str, str]:
    near._MARK_CACHE.clear()
    fast = near._mark(found)
    near._MARK_CACHE.clear()
    return fast, near._mark_reference(found)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_whole_numbers_get_the_marks_the_regex_gave(pieces):
    s = "".join(pieces)
    for rx in (near._MARK_FOUND, near._MARK_FOUND_ASCII):
        for found in rx.findall(s):
            fast, reference = _both(found)
            assert fast == reference, found


def test_the_labelled_stories_figures():
    seen = 0
    for line in DATA.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        text = " ".join(str(v) for v in item.values() if isinstance(v, str))
        for found in near._MARK_FOUND.findall(text):
            fast, reference = _both(found)
            assert fast == reference, found
            seen += 1
    assert seen > 1000
    # the kinds the path takes and the ones it leaves to the regex are both there
    assert _both("2024") == ("y2024", "y2024") and _both("007 ") == ("7", "7") and _both("49.5%") == ("49.5%",) * 2
