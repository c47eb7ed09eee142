"""Feed date strings → aware UTC datetimes.

Reads RFC 822/2822 (with named zones and `+08:00` offsets), asctime, ISO 8601 / W3C-DTF (partial dates
mean the first of the period), Chinese, Korean, Greek and Hungarian forms; python-dateutil reads the
long tail. Zone-less times are read in the source's time zone (`tz`); a missing part is never filled
from today's date.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

MAX_DATE_CHARS = 128

KST = timezone(timedelta(hours=9), "KST")

# Zone names, in hours east of UTC. RFC 822's names and the ones feedparser reads (AT/ET/CT/MT/PT,
# MET/MEST), plus the usual European ones (MEZ/MESZ are their German names) and a few other common ones.
# Names the source's own zone uses at that instant win over this table (CST in Asia/Shanghai is +8).
ZONE_HOURS: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "AST": -4, "ADT": -3, "AT": -4, "EST": -5, "EDT": -4, "ET": -5, "CST": -6, "CDT": -5, "CT": -6,
    "MST": -7, "MDT": -6, "MT": -7, "PST": -8, "PDT": -7, "PT": -8,
    "AKST": -9, "AKDT": -8, "HST": -10, "NST": -3.5, "NDT": -2.5,
    "BST": 1, "WEST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "MEZ": 1, "MESZ": 2,
    "EET": 2, "EEST": 3, "MSK": 3,
    "HKT": 8, "SGT": 8, "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13,
}
# Military letters (J is unused): A–M are 1–12 h east, N–Y 1–12 h west. RFC 822 printed these with the
# signs reversed (RFC 1123 §5.2.14 says so); we read them as the military defines them.
ZONE_HOURS.update({letter: hours for hours, letter in enumerate("ABCDEFGHIKLM", 1)})
ZONE_HOURS.update({letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", 1)})
_NAMED_ZONES: dict[str, tzinfo] = {
    name: UTC if hours == 0 else timezone(timedelta(hours=hours), name) for name, hours in ZONE_HOURS.items()}
_UTC_NAMES = frozenset(name for name, hours in ZONE_HOURS.items() if hours == 0)

MONTHS: dict[str, int] = {}
for _number, _name in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                 "september", "october", "november", "december"), 1):
    MONTHS[_name] = MONTHS[_name[:3]] = _number
MONTHS["sept"] = 9

# Month and weekday names of other languages → the English (or numeric) form the patterns below read.
FOREIGN_WORDS: dict[str, str] = {
    # Greek (feedparser's table: accented and unaccented spellings)
    "Ιαν": "Jan", "Φεβ": "Feb", "Μάώ": "Mar", "Μαώ": "Mar", "Απρ": "Apr", "Μάι": "May", "Μαϊ": "May",
    "Μαι": "May", "Ιούν": "Jun", "Ιον": "Jun", "Ιούλ": "Jul", "Ιολ": "Jul", "Αύγ": "Aug", "Αυγ": "Aug",
    "Σεπ": "Sep", "Οκτ": "Oct", "Νοέ": "Nov", "Νοε": "Nov", "Δεκ": "Dec",
    "Κυρ": "Sun", "Δευ": "Mon", "Τρι": "Tue", "Τετ": "Wed", "Πεμ": "Thu", "Παρ": "Fri", "Σαβ": "Sat",
    # Hungarian, plus feedparser's misspellings "februári" and "máujus"
    "január": "01", "február": "02", "februári": "02", "március": "03", "április": "04", "május": "05",
    "máujus": "05", "június": "06", "július": "07", "augusztus": "08", "szeptember": "09",
    "október": "10", "november": "11", "december": "12",
}
_FOREIGN_WORD = re.compile("|".join(map(re.escape, sorted(FOREIGN_WORDS, key=len, reverse=True))))

# Afternoon markers: Korean (Nate), Chinese, English; any other marker is the morning.
PM_WORDS = frozenset({"오후", "下午", "PM", "pm", "Pm", "pM"})

# --- Patterns. Every one is anchored at both ends and uses the same group names, read by _build. ---
_WEEKDAY = r"(?:[A-Za-z]{2,9}\.?(?:,\s*|\s+))?"  # ignored: redundant, often wrong, sometimes glued to the day
_TIME = (r"(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{1,2})"
         r"(?:\s*[:：分]\s*(?P<second>\d{1,2})\s*秒?(?:[.,](?P<fraction>\d+))?)?\s*分?"
         r"(?:\s*(?P<meridiem>[AaPp][Mm])\b)?")
# A zone: a name (looked up when the form is built: ZONE_HOURS, the source's own abbreviations, else
# ignored) or an IANA key, then an offset, which may be followed by its name ("+0800 CST") or an RFC 822
# comment ("+0800 (CST)").
_ZONE = (r"\s*(?:(?P<zone>[A-Za-z]{1,5}\b|[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)\s*)?"
         r"(?:(?P<offset>[+-]\d{1,2}(?::?\d{2})?)(?:\s*[A-Za-z]{1,5}\b)?)?(?:\s*\([^()]*\))?")
_OPTIONAL_TIME = rf"(?:(?:\s*[Tt]\s*|,?\s+){_TIME})?"
# Year-first forms take a zone only after a time: in "2013-01-27-01" the "-01" is junk, not an offset.
_OPTIONAL_TIME_ZONE = rf"(?:(?:\s*[Tt]\s*|,?\s+){_TIME}{_ZONE})?"


def _form(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\s*{pattern}\s*$")


# RFC 2822 as nearly every feed writes it, "Mon, 14 Mar 2022 06:22:00 GMT": this short pattern and
# _usual_rfc2822 take half the time of the general pattern and _build. Same group names as FORMS.
_USUAL_RFC2822 = re.compile(
    r"(?:[A-Za-z]{3}, )?(?P<day>\d\d?) (?P<mon>[A-Za-z]{3}) (?P<year>\d{4}) "
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d) (?:(?P<zone>[A-Z]{1,5})|(?P<offset>[+-]\d\d:?\d\d))$")

# (pattern, zone implied when the string names none, or None for the source's zone), tried in order.
FORMS: tuple[tuple[re.Pattern[str], tzinfo | None], ...] = (
    # Year first, tried first as Chinese feeds write it: "2022年3月14日 下午2:22", "2022/03/14 14:22",
    # W3C-DTF with a one-digit hour, Perforce "Fri, 2006/09/15 08:19:53 EDT", Google's "2003-012-31"
    (_form(rf"{_WEEKDAY}(?P<year>\d{{4}})\s*[年/.-]\s*(?P<month>0?\d{{1,2}})\s*[月/.-]\s*(?P<day>\d{{1,2}})\s*日?"
           rf"(?:(?:\s*[Tt]\s*|\s*)(?P<ampm>上午|下午)?\s*{_TIME}{_ZONE})?"), None),
    # RFC 822/2822 at large: "Thu, 01 Jan 04", "Mon, 13 Feb, 2012 06:28 UTC", "Fri,24 Nov 2023 18:28:36 -0000"
    (_form(rf"{_WEEKDAY}(?P<day>\d{{1,2}})[\s-]+(?P<mon>[A-Za-z]{{3,9}})\.?,?[\s-]+(?P<year>\d{{2,4}})"
           rf"{_OPTIONAL_TIME}{_ZONE}"), None),
    # Korean blogs (OnBlog, Nate) write Korea's time without a zone
    (_form(rf"(?P<year>\d{{4}})년\s*(?P<month>\d{{1,2}})월\s*(?P<day>\d{{1,2}})일\s*{_TIME}"), KST),
    (_form(rf"(?P<year>\d{{4}})-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})\s*(?P<ampm>오전|오후)\s*{_TIME}"), KST),
    # Month first: "Thu Aug 30 2012 17:26:16 +0200", "August 30, 2012 2:22 PM"
    (_form(rf"{_WEEKDAY}(?P<mon>[A-Za-z]{{3,9}})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})"
           rf"{_OPTIONAL_TIME}{_ZONE}"), None),
    # asctime and Twitter: "Sun Jan  4 16:29:06 2004", "Sun Jul 15 01:16:00 +0000 2012"
    (_form(rf"{_WEEKDAY}(?P<mon>[A-Za-z]{{3,9}})\s+(?P<day>\d{{1,2}})\s+{_TIME}{_ZONE}\s+(?P<year>\d{{4}})"), None),
    # ISO 8601 forms fromisoformat does not read: "2003", "2003-12", ordinal "2003-335", two-digit years
    # "031231", "03-12-31", "03335", and the truncated "-0312" / "-03-12" (century left out)
    (_form(rf"(?P<year>\d{{4}})(?:-(?P<month>\d{{1,2}}))?{_OPTIONAL_TIME_ZONE}"), None),
    (_form(rf"(?P<year>\d{{4}}|\d\d)-?(?P<ordinal>\d{{3}}){_OPTIONAL_TIME_ZONE}"), None),
    (_form(rf"(?P<year>\d\d)-?(?P<month>\d\d)-?(?P<day>\d\d){_OPTIONAL_TIME_ZONE}"), None),
    (_form(rf"-(?P<year>\d\d)-?(?P<month>\d\d){_OPTIONAL_TIME_ZONE}"), None),
)

# dateutil reads "GMT+3" the POSIX way (3 h *west*); feeds mean 3 h east, so the name is dropped.
_UTC_NAME_BEFORE_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*(?=[+-]\d)", re.IGNORECASE)
# A full ISO date followed by something that is not a time ("2013-01-27-01") is malformed: dateutil
# would guess an hour from it.
_ISO_DATE_THEN_JUNK = re.compile(r"\s*\d{4}-\d\d-\d\d[^\sTt]")
# dateutil fills parts the string lacks from this default: the first of the period, and year 1 to tell
# a missing year (which is refused) from a real one.
_NO_YEAR = datetime(1, 1, 1)


def parse_date(raw: str, tz: tzinfo = UTC) -> datetime | None:
    """The instant `raw` names, in UTC, or None. Zone-less times are read in `tz`."""
    s = (raw or "").strip()
    if not s or len(s) > MAX_DATE_CHARS:  # real dates are ~30 characters; dateutil is slow on megabytes
        return None
    # ISO 8601 with a full date: the C parser is the fastest reader there is. Python 3.11 accepts any
    # character between date and time, so anything but T or a space is left to the stricter patterns.
    if s[0].isdigit():
        sep = 10 if s[4:5] == "-" else 8
        if len(s) <= sep or s[sep] in "Tt ":
            try:
                return _to_utc(datetime.fromisoformat(s), tz)
            except ValueError:
                pass
    m = _USUAL_RFC2822.match(s)
    if m:
        return _usual_rfc2822(m, tz)
    translated = ""
    found = _first_form(s)
    if found is None and (translated := _translated(s)):
        found = _first_form(translated)
    if found is not None:
        return _build(*found, tz)
    return _dateutil(translated or s, tz)


def _first_form(text: str) -> tuple[re.Match[str], tzinfo | None] | None:
    for pattern, implied_zone in FORMS:
        m = pattern.match(text)
        if m:
            return m, implied_zone
    return None


def _translated(s: str) -> str:
    """`s` with Greek/Hungarian month and weekday names in English, or "" when there are none."""
    if s.isascii():
        return ""
    out = _FOREIGN_WORD.sub(lambda m: FOREIGN_WORDS[m.group()], s)
    return out if out != s else ""


def _usual_rfc2822(m: re.Match[str], tz: tzinfo) -> datetime | None:
    day, month_name, year, hour, minute, second, name, offset = m.groups()
    zone = _offset_zone(offset) if offset else UTC if name in _UTC_NAMES else None
    month = MONTHS.get(month_name.lower())
    if zone is None or month is None:  # named zones (EST, CST in China …) and odd offsets: the general way
        return _build(m, None, tz)
    numbers = _NUMBERS  # (\d matches every script's digits: those few go to int())
    try:
        return datetime(numbers[year] if year in numbers else int(year), month,
                        numbers[day] if day in numbers else int(day), numbers[hour] if hour in numbers else int(hour),
                        numbers[minute] if minute in numbers else int(minute),
                        numbers[second] if second in numbers else int(second), 0, zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# The day, time and year fields of the usual RFC 2822 date as numbers: a dict lookup each instead of int(), which
# costs ~1,200 instructions a call (it copies the text to ASCII first). Years: those feeds are seen to give.
_NUMBERS = {f"{n:02d}": n for n in range(100)} | {str(n): n for n in range(10)} | {str(n): n for n in range(1900, 2200)}


def _build(m: re.Match[str], implied_zone: tzinfo | None, tz: tzinfo) -> datetime | None:
    g = m.groupdict()
    year_text = g["year"]
    year = int(year_text)
    if len(year_text) < 4:  # RFC 5322 §4.3: 00–49 → 2000s, 50–99 → 1900s, three digits → +1900
        year += 2000 if len(year_text) == 2 and year < 50 else 1900
    month_name = g.get("mon")
    month = MONTHS.get(month_name.lower()) if month_name else int(g.get("month") or 1)
    if month is None:
        return None
    hour = int(g.get("hour") or 0)
    meridiem = g.get("meridiem") or g.get("ampm")
    if meridiem:
        hour = hour % 12 + (12 if meridiem in PM_WORDS else 0) if hour <= 12 else hour  # "14:22 PM" is 14:22
    fraction = g.get("fraction")
    offset, name = g.get("offset"), g.get("zone")
    zone: tzinfo | None = implied_zone or tz
    if offset:  # an explicit offset wins over a name: "GMT-01:01" is 1 h 1 min west
        zone = _offset_zone(offset)
        if zone is None:
            return None
    try:
        if g.get("ordinal"):
            day = date(year, 1, 1) + timedelta(days=int(g["ordinal"]) - 1)
            if day.year != year:  # day 000, or 366 of a common year
                return None
            month, day_number = day.month, day.day
        else:
            day_number = int(g.get("day") or 1)
        fields = (year, month, day_number, hour, int(g.get("minute") or 0), int(g.get("second") or 0),
                  int(fraction[:6].ljust(6, "0")) if fraction else 0)
        if name and not offset:
            zone = _named_zone(name, datetime(*fields, tzinfo=tz)) or zone
        return datetime(*fields, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _named_zone(name: str, in_source_zone: datetime) -> tzinfo | None:
    """The zone `name` stands for at that local time, or None when we do not know it."""
    key = name.upper()
    if key in _UTC_NAMES:
        return UTC
    # The source's own zone decides what its abbreviations mean: "CST" from a Chinese feed is +8.
    if in_source_zone.tzname() == key:
        return in_source_zone.tzinfo
    if key in _NAMED_ZONES:
        return _NAMED_ZONES[key]
    if "/" in name:
        try:
            return ZoneInfo(name)
        except (ValueError, OSError):  # unknown or malformed IANA key
            return None
    return None  # a name we do not know tells us nothing: the time is read as zone-less


@lru_cache(maxsize=256)
def _offset_zone(offset: str) -> tzinfo | None:
    """"+08:00", "+0800", "+8", "-01:01" → a fixed zone; "-0000" is UTC (RFC 5322 §3.3); None if out of range."""
    digits = offset[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours > 23 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta) if delta else UTC


def _dateutil(s: str, tz: tzinfo) -> datetime | None:
    """The long tail ("March 14, 2022 2:22 PM CST"): dateutil, with no part taken from today."""
    if _ISO_DATE_THEN_JUNK.match(s):
        return None
    # Imported here: the forms above read every date in feedparser's corpus, so most processes never need it.
    from dateutil import parser as dateutil_parser

    zone_names: list[str] = []

    def remember_zone(name: str | None, offset: int | None) -> None:
        if name:
            zone_names.append(name)

    try:  # with a tzinfos callable dateutil asks us about every zone name instead of warning
        dt = dateutil_parser.parse(_UTC_NAME_BEFORE_OFFSET.sub("", s), default=_NO_YEAR, tzinfos=remember_zone)
    except (ValueError, OverflowError, TypeError):  # ParserError is a ValueError
        return None
    if dt.year == _NO_YEAR.year:  # no year in the string: a guess would misdate the item
        return None
    if dt.tzinfo is None and zone_names:
        dt = dt.replace(tzinfo=_named_zone(zone_names[-1], dt.replace(tzinfo=tz)))
    return _to_utc(dt, tz)


def _to_utc(dt: datetime, tz: tzinfo) -> datetime | None:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
