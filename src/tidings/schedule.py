"""When to fetch each source next: a pure policy (no I/O; the clock is passed in as `now`).

All times are unix seconds (float). See docs/scheduling.md for the rules in a table.
"""
from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC


@dataclass(frozen=True)
class Policy:
    min_interval: float = 600.0      # never fetch a source more often than this (10 min)
    max_interval: float = 86400.0    # after a success, never wait longer than this (24 h)
    backoff_base: float = 600.0      # first retry delay after a failure
    backoff_cap: float = 86400.0     # longest backoff delay (before jitter)
    jitter: float = 0.1              # ± fraction applied to failure backoff

    def __post_init__(self) -> None:
        if not 0 <= self.min_interval <= self.max_interval:
            raise ValueError("need 0 <= min_interval <= max_interval")
        if self.backoff_base <= 0 or self.backoff_cap < self.backoff_base:
            raise ValueError("need 0 < backoff_base <= backoff_cap")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")


def _http_date_delta(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_cache_control_max_age(value: str | None) -> float | None:
    """`max-age` in seconds; 0.0 when `no-cache`/`no-store` is present; None when absent or invalid."""
    if not value:
        return None
    max_age = None
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age" and max_age is None:
            arg = arg.strip().strip('"')
            if arg.isdigit():
                max_age = float(arg)
    return max_age


def parse_expires(value: str | None, now: float) -> float | None:
    """Seconds from `now` until an `Expires` HTTP date, never negative.

    An invalid date (such as "0" or "-1") means "already expired" (RFC 9111 §5.3), so 0.0.
    """
    if value is None or not value.strip():
        return None
    delta = _http_date_delta(value.strip(), now)
    return 0.0 if delta is None else delta


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; None when absent or invalid."""
    from .http import retry_after_seconds  # the one reader of the header, shared with the fetchers

    return retry_after_seconds(value, now)


def _clamp(delay: float, policy: Policy) -> float:
    return min(policy.max_interval, max(policy.min_interval, delay))


def next_fetch_after_success(now: float, *, ttl_minutes: int | None = None,
                             headers: Mapping[str, str] | None = None, interval: float = 1800.0,
                             policy: Policy = Policy()) -> float:
    """Next fetch time after a successful fetch (200 or 304).

    The delay is the largest positive value the feed asks for (`<ttl>`, HTTP freshness, Retry-After),
    or `interval` when it asks for nothing, clamped to [min_interval, max_interval].
    HTTP freshness follows RFC 9111: `Cache-Control: max-age` wins over `Expires`, and
    `no-cache`/`no-store` make it 0, i.e. no request at all. Deterministic, no jitter: see
    docs/scheduling.md for why.
    """
    h = {k.lower(): v for k, v in (headers or {}).items()}
    max_age = parse_cache_control_max_age(h.get("cache-control"))
    freshness = max_age if max_age is not None else parse_expires(h.get("expires"), now)
    candidates = [ttl_minutes * 60.0 if ttl_minutes is not None else None,
                  freshness, parse_retry_after(h.get("retry-after"), now)]
    asks = [a for a in candidates if a is not None and a > 0]
    return now + _clamp(max(asks) if asks else interval, policy)


def next_fetch_after_failure(now: float, *, errors_in_a_row: int, retry_after: float | None = None,
                             policy: Policy = Policy(), rng: random.Random | None = None) -> float:
    """Next fetch time after a failed fetch; a failing source is retried forever, never disabled.

    Delay = min(backoff_cap, backoff_base * 2**(errors_in_a_row-1)) * (1 ± jitter), and never
    less than `retry_after` (seconds) — which is honoured up to `max_interval`, so a bogus
    far-future Retry-After cannot park a source for weeks.
    """
    exponent = min(max(errors_in_a_row, 1) - 1, 512)  # avoid float overflow for huge counts
    delay = min(policy.backoff_cap, policy.backoff_base * 2.0 ** exponent)
    if policy.jitter:
        delay *= 1 + (rng or random).uniform(-policy.jitter, policy.jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_interval))
    return now + delay


def is_due(next_fetch: float | None, now: float, *, force: bool = False, slack: float = 60.0) -> bool:
    """Fetch now? Never-fetched (None) and forced sources are due; otherwise due once
    `now + slack >= next_fetch`, so a cron run does not skip a source due a few seconds later."""
    return force or next_fetch is None or now + slack >= next_fetch
