"""feeds.py escapes XML and writes RFC 822 dates itself (the standard modules cost start-up time): it must
write exactly what xml.sax.saxutils and email.utils write."""
from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime as std_format_datetime
from xml.sax.saxutils import escape as std_escape
from xml.sax.saxutils import quoteattr as std_quoteattr

from hypothesis import given
from hypothesis import strategies as st

from tidings.publish.site import feeds

TEXT = st.text(alphabet=st.sampled_from(list("ab &<>\"'\n\r\t;#中文")), max_size=30)


@given(TEXT)
def test_escape_and_quoteattr_are_the_standard_ones(text):
    assert feeds.escape(text) == std_escape(text)
    assert feeds.quoteattr(text) == std_quoteattr(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_rfc822_dates_are_the_standard_ones(dt):
    assert feeds.rfc2822_gmt(dt) == std_format_datetime(dt, usegmt=True)
