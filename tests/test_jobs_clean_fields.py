"""jobs.Cleaner cleans an entry's title, author, link and guid with _clean_field, which returns printable ASCII as
it is without clean_text's scan: the same text as clean_text, on generated text of every kind."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tidings.clean import clean_text
from tidings.jobs import _clean_field

ascii_text = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30)
any_text = st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=30)
latin1_text = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=30)


@given(st.one_of(ascii_text, any_text, latin1_text))
def test_clean_field_is_clean_text(text):
    assert _clean_field(text) == clean_text(text)


def test_clean_field_of_urls_ids_and_odd_text():
    for text in ("", "https://finance.sina.com.cn/china/doc-1.shtml?x=1&y=2", "doc-1", "a\x00b", "a\tb", "Ã©tÃ©",
                 "é", "新闻标题", "a\x7fb", "\ud800"):
        assert _clean_field(text) == clean_text(text)
