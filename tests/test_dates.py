"""dates.py: every date feedparser's own tests read, to the same instant, and the date bugs of issue 11.

feedparser's test module is read with `ast`, not imported: it imports feedparser's internals, and its
cases are data here (parser name, input, expected UTC 9-tuple or None).
"""
from __future__ import annotations

import ast
import calendar
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import CORPUS, need_corpus
from hypothesis import given
from hypothesis import strategies as st

from tidings.dates import MAX_DATE_CHARS, parse_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEEDPARSER_TESTS = "test_date_parsers.py"

# Inputs feedparser's tests expect None for, which tidings reads on purpose, and why.
READS_WHERE_FEEDPARSER_REFUSES: dict[str, str] = {
    "22013": "ISO 8601 year + day of year (YYDDD): 2022, day 13. feedparser's W3C-DTF parser refuses it, but "
             "its ISO 8601 test reads the same shape ('03335' = 2003-12-01) and its own _parse_date "
             "returns 2022-01-13 for it too.",
}

FeedparserCase = tuple[str, str, "tuple[int, ...] | None"]


def feedparser_cases(module: Path) -> list[FeedparserCase]:
    """(parser name, input, expected) from every @pytest.mark.parametrize list in feedparser's module."""
    cases: list[FeedparserCase] = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "parametrize":
            rows = node.args[1]
            assert isinstance(rows, (ast.Tuple, ast.List))
            for row in rows.elts:
                assert isinstance(row, ast.Tuple)
                parser, raw, expected = row.elts
                assert isinstance(parser, ast.Name)
                cases.append((parser.id, ast.literal_eval(raw), ast.literal_eval(expected)))
    return cases


def _params() -> list[object]:
    # Collection reads the module from where need_corpus() looks; when it is missing, one placeholder
    # case lets the `corpus` fixture skip (locally) or fail (in CI) with need_corpus()'s message.
    module = CORPUS / FEEDPARSER_TESTS
    if not module.is_file():
        return [pytest.param("", "", None, id="corpus-missing")]
    return [pytest.param(parser, raw, expected, id=f"{parser.removeprefix('_parse_date_')}:{raw!r}")
            for parser, raw, expected in feedparser_cases(module)]


@pytest.fixture(scope="module")
def corpus() -> Path:
    return need_corpus()


def test_feedparser_module_has_the_cases_we_expect(corpus: Path) -> None:
    # A rewrite of feedparser's test module that hid its cases from the ast reader must not pass silently.
    cases = feedparser_cases(corpus / FEEDPARSER_TESTS)
    readable = [c for c in cases if c[2] is not None and c[1]]
    assert len(cases) >= 70 and len(readable) >= 45
    assert {parser for parser, _, _ in readable} >= {
        "_parse_date_greek", "_parse_date_hungarian", "_parse_date_iso8601", "_parse_date_nate",
        "_parse_date_onblog", "_parse_date_perforce", "_parse_date_rfc822", "_parse_date_asctime",
        "_parse_date_w3dtf"}


def _seconds(dt: datetime | None) -> int | None:
    return None if dt is None else calendar.timegm(dt.utctimetuple())


@pytest.mark.parametrize("parser,raw,expected", _params())
def test_feedparser_date_case(corpus: Path, parser: str, raw: str, expected: tuple[int, ...] | None) -> None:
    got = parse_date(raw)
    if expected is not None:  # the same instant, to the second (feedparser's tuples have no fraction)
        assert got is not None and got.tzinfo is UTC
        assert _seconds(got) == calendar.timegm(expected), f"{parser}: {got.isoformat()}"
    elif raw in READS_WHERE_FEEDPARSER_REFUSES:
        assert got is not None
    else:
        assert got is None, f"{parser} refuses it; we read {got.isoformat() if got else got}"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
         microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


Case = tuple[str, tzinfo, "datetime | None"]

# (input, source zone, expected UTC instant or None): the date bugs of issue 11, each read wrong before.
BUG_CASES: list[Case] = [
    # RFC 822 with a "+08:00" offset (Chinese feeds write it): was read as zone-less, 8 h off in a UTC source
    ("Mon, 14 Mar 2022 14:22:00 +08:00", UTC, _utc(2022, 3, 14, 6, 22)),
    ("Mon, 14 Mar 2022 14:22:00 +05:30", SHANGHAI, _utc(2022, 3, 14, 8, 52)),
    ("14 Mar 2022 14:22 +08:00", UTC, _utc(2022, 3, 14, 6, 22)),
    ("Mon, 14 Mar 2022 14:22:00 GMT+8", UTC, _utc(2022, 3, 14, 6, 22)),  # east, not POSIX's west
    # named zones the old code read as UTC (or as the source's zone) outside the canonical RFC 822 form
    ("2022-03-14 06:22:00 EST", UTC, _utc(2022, 3, 14, 11, 22)),
    ("2022-03-14T06:22:00 CST", UTC, _utc(2022, 3, 14, 12, 22)),
    ("Fri, 2006/09/15 08:19:53 EDT", SHANGHAI, _utc(2006, 9, 15, 12, 19, 53)),
    ("Mon, 14 Mar 2022 06:22:00 ET", UTC, _utc(2022, 3, 14, 11, 22)),
    ("Thu, 30 Apr 2015 08:57:00 MET", SHANGHAI, _utc(2015, 4, 30, 7, 57)),
    ("Mon, 14 Mar 2022 08:22:00 MEZ", UTC, _utc(2022, 3, 14, 7, 22)),
    ("Mon, 14 Jul 2022 08:22:00 MESZ", UTC, _utc(2022, 7, 14, 6, 22)),
    ("Mon, 14 Mar 2022 08:22:00 CET", SHANGHAI, _utc(2022, 3, 14, 7, 22)),
    ("Mon, 14 Jul 2022 08:22:00 CEST", UTC, _utc(2022, 7, 14, 6, 22)),
    ("Mon, 14 Mar 2022 14:22:00 Asia/Shanghai", UTC, _utc(2022, 3, 14, 6, 22)),
    # "CST" from a source in China is China Standard Time: the source's own zone names it
    ("Mon, 14 Mar 2022 14:22:00 CST", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("Mon Mar 14 14:22:47 CST 2022", SHANGHAI, _utc(2022, 3, 14, 6, 22, 47)),  # Java's Date.toString()
    # military letters as the military defines them (RFC 822 printed the signs reversed)
    ("Mon, 14 Mar 2022 06:22:00 A", UTC, _utc(2022, 3, 14, 5, 22)),
    ("Mon, 14 Mar 2022 06:22:00 N", UTC, _utc(2022, 3, 14, 7, 22)),
    # "-0000" is UTC from a system that does not say its own zone (RFC 5322 §3.3), not a zone-less time
    ("Mon, 14 Mar 2022 06:22:00 -0000", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    # partial W3C-DTF / ISO 8601 dates mean the first of the period, never today's month or day
    ("2003-12", UTC, _utc(2003, 12, 1)),
    ("2003", UTC, _utc(2003, 1, 1)),
    ("2003-12", SHANGHAI, _utc(2003, 11, 30, 16)),
    ("2003-335", UTC, _utc(2003, 12, 1)),
    # zone-less times read in the source's zone, in forms the old code misread
    ("March 14, 2022 2:22 PM", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("2022年3月14日 下午2:22", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    # a missing year is never taken from today
    ("March 14", UTC, None),
    ("14:22", UTC, None),
    ("2013-01-27-01", UTC, None),  # not an hour: junk after the date
]

# Forms that already worked and must keep working.
KEEPS_WORKING: list[Case] = [
    ("Mon, 14 Mar 2022 06:22:00 GMT", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("Mon, 14 Mar 2022 14:22:00 +0800", UTC, _utc(2022, 3, 14, 6, 22)),
    ("Mon, 14 Mar 2022 14:22:00 +0800 CST", UTC, _utc(2022, 3, 14, 6, 22)),  # the offset wins
    ("Mon, 14 Mar 2022 06:22:00 EST", UTC, _utc(2022, 3, 14, 11, 22)),
    ("Mon, 14 Mar 2022 06:22:00 EDT", SHANGHAI, _utc(2022, 3, 14, 10, 22)),
    ("Mon, 14 Mar 2022 06:22:00 CST", UTC, _utc(2022, 3, 14, 12, 22)),
    ("Mon, 14 Mar 2022 06:22:00 PDT", UTC, _utc(2022, 3, 14, 13, 22)),
    ("Mon, 14 Mar 2022 06:22:00 UT", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("Mon, 14 Mar 2022 06:22:00 Z", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    # W3C-DTF forms dcterms dates use
    ("2022-03-14T14:22+08:00", UTC, _utc(2022, 3, 14, 6, 22)),
    ("2022-03-14T14:22:47.123456789+08:00", UTC, _utc(2022, 3, 14, 6, 22, 47, 123456)),
    ("2022-03-14t06:22:47z", SHANGHAI, _utc(2022, 3, 14, 6, 22, 47)),
    ("2022-03-14", SHANGHAI, _utc(2022, 3, 13, 16)),
    # Chinese forms
    ("2022年03月14日 14:22", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("2022年3月14日14时22分", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("2022年3月14日 14:22:05", SHANGHAI, _utc(2022, 3, 14, 6, 22, 5)),
    ("2022/03/14 14:22:05", SHANGHAI, _utc(2022, 3, 14, 6, 22, 5)),
    ("2022.03.14 14:22", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("2022年3月14日", SHANGHAI, _utc(2022, 3, 13, 16)),
    # zone-less times are read in the source's zone
    ("2022-03-14 14:22:47", SHANGHAI, _utc(2022, 3, 14, 6, 22, 47)),
    ("Mon, 14 Mar 2022 14:22:00", SHANGHAI, _utc(2022, 3, 14, 6, 22)),
    ("Sun Jan  4 16:29:06 2004", SHANGHAI, _utc(2004, 1, 4, 8, 29, 6)),
    # refused: out of range (feedparser's test_year_10000_date), and hostile lengths
    ("Sun, 31 Dec 9999 23:59:59 -9999", UTC, None),
    ("not a date", UTC, None),
    ("1" * (MAX_DATE_CHARS + 1), UTC, None),
    ("Mon, 14 Mar 2022 06:22:00 GMT" + " " * 1_000_000 + "x", UTC, None),
]
HAND_CASES = BUG_CASES + KEEPS_WORKING


@pytest.mark.parametrize("raw,tz,expected", HAND_CASES,
                         ids=[f"{raw[:40]!r}@{tz}" for raw, tz, _ in HAND_CASES])
def test_issue_11_date_bugs(raw: str, tz: tzinfo, expected: datetime | None) -> None:
    got = parse_date(raw, tz)
    assert got == expected
    assert got is None or got.tzinfo is UTC


def _usual_rfc2822_reference(m, tz):
    """dates._usual_rfc2822 as it was: int() of every field."""
    from tidings import dates

    day, month_name, year, hour, minute, second, name, offset = m.groups()
    zone = dates._offset_zone(offset) if offset else UTC if name in dates._UTC_NAMES else None
    month = dates.MONTHS.get(month_name.lower())
    if zone is None or month is None:
        return dates._build(m, None, tz)
    try:
        return datetime(int(year), month, int(day), int(hour), int(minute), int(second), 0, zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


digits = st.sampled_from("0123456789٠٥९")  # ASCII, Arabic-Indic and Devanagari digits: \d takes them all


@given(st.text(digits, min_size=1, max_size=2), st.sampled_from(["Jan", "Nov", "Foo", "dec"]),
       st.text(digits, min_size=4, max_size=4), st.lists(st.text(digits, min_size=2, max_size=2), min_size=3,
                                                         max_size=3),
       st.sampled_from(["GMT", "UT", "Z", "CST", "EST", "+0800", "-01:30", "+2500"]), st.booleans())
def test_usual_rfc2822_reads_the_fields_as_int_did(day, month, year, clock, zone, weekday):
    from tidings import dates

    raw = f"{'Mon, ' if weekday else ''}{day} {month} {year} {':'.join(clock)} {zone}"
    m = dates._USUAL_RFC2822.match(raw)
    assert m is not None
    assert dates._usual_rfc2822(m, SHANGHAI) == _usual_rfc2822_reference(m, SHANGHAI)
    assert parse_date(raw, SHANGHAI) == _usual_rfc2822_reference(m, SHANGHAI)
