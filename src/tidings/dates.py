"""Feed date strings → aware UTC datetimes: RFC 822/2822, ISO 8601 / W3C-DTF and common Chinese forms.

Zone-less times are read in the source's time zone (`tz`).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

MAX_DATE_CHARS = 128

_CN_DATE = re.compile(
    r"^\s*(\d{4})\s*[年/\-.]\s*(\d{1,2})\s*[月/\-.]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T\s]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?)?\s*分?)?\s*$")


def parse_date(raw: str, tz: timezone | ZoneInfo = timezone.utc) -> datetime | None:
    """Parse RFC 2822, ISO 8601 and common Chinese forms; zone-less times are in `tz`. Returns UTC."""
    s = (raw or "").strip()
    if not s or len(s) > MAX_DATE_CHARS:  # real dates are ~30 characters; dateutil is slow on megabytes
        return None
    dt = None
    m = _CN_DATE.match(s)
    if m:
        y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
        try:
            dt = datetime(y, mo, d, h, mi, sec)
        except ValueError:
            return None
    if dt is None:
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            dt = None
    if dt is None:
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            dt = None
        # "-0000" means "zone unknown" in RFC 2822; Python returns it naive, which we read in `tz`.
    if dt is None:
        try:
            from dateutil import parser as du

            dt = du.parse(s, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None
