"""_clean's shortcut for names that need no cleaning gives what every cleaning step gives."""
from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tidings.publish.paths import _RESERVED, _RESERVED_FIRST, _clean, _clean_reference

# Characters each step of the cleaning looks at, beside ordinary and CJK text.
_TRICKY = list('/\\:*?"<>|#%._ -\t\n\x00\x1f\x7f\x85\xa0\u3000\u2028\u200b\u200e\u202e\u2066\ufeff\ufffe\ud800'
               "ﬀıſ¹²³\u1e9a") + ["CON", "con", "Nul", "COM1", "lpt²", "AUX", "PRN", "\u1e9aux"]
_NAMES = st.lists(st.one_of(st.sampled_from(_TRICKY), st.text(max_size=4),
                            st.text(alphabet="新闻标题市场经济：。abcXYZ019", max_size=6)), max_size=12).map("".join)


@settings(max_examples=3000)
@given(_NAMES, st.integers(min_value=8, max_value=60))
@example("CON.txt", 197)
@example("con .md", 197)
@example("COM1", 197)
@example("abcd .x", 197)
@example("新闻标题 12：市场", 12)
@example("a  b", 197)
@example("a\u3000b", 197)
@example("title.", 197)
@example("_draft", 197)
def test_clean_shortcut_matches_every_step(name: str, max_bytes: int) -> None:
    assert _clean(name, max_bytes) == _clean_reference(name, max_bytes)


def test_clean_keeps_a_usual_title_as_it_is() -> None:
    title = "新闻标题 12：市场经济发展 (2026) - Reuters"
    assert _clean(title, 197) is title
    assert _clean_reference(title, 197) == title


def test_only_a_name_beginning_with_a_reserved_first_character_can_be_reserved() -> None:
    """_clean skips the reserved-name test for a name whose first character is not in _RESERVED_FIRST: every
    character whose upper case begins with a reserved name's first letter is in it."""
    letters = {name[0] for name in _RESERVED}
    every = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert {c for c in every if c.upper()[:1] in letters} <= _RESERVED_FIRST
