"""schedule.py: a pure policy, tested with a fake clock (plain numbers)."""
import random
from email.utils import formatdate

import pytest

from tidings.schedule import (
    Policy,
    is_due,
    next_fetch_after_failure,
    next_fetch_after_success,
    parse_cache_control_max_age,
    parse_expires,
    parse_retry_after,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
MIN, HOUR = 60.0, 3600.0
NO_JITTER = Policy(jitter=0)


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


def after_success(**kw):
    kw.setdefault("interval", 1800)
    return next_fetch_after_success(NOW, **kw) - NOW


def after_failure(n, retry_after=None, policy=NO_JITTER, seed=0):
    return next_fetch_after_failure(NOW, errors_in_a_row=n, retry_after=retry_after,
                                    policy=policy, rng=random.Random(seed)) - NOW


# --- header parsing -------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("public", None), ("max-age=7200", 7200), ("public, MAX-AGE=60", 60),
    ('max-age="300"', 300), ("max-age=abc", None), ("max-age=-5", None),
    ("no-store", 0), ("max-age=7200, no-store", 0), ("No-Cache, max-age=7200", 0),
])
def test_parse_cache_control(value, expected):
    assert parse_cache_control_max_age(value) == expected


def test_parse_expires():
    assert parse_expires(None, NOW) is None
    assert parse_expires(http_date(NOW + 3 * HOUR), NOW) == 3 * HOUR
    assert parse_expires(http_date(NOW - HOUR), NOW) == 0  # in the past: never negative
    assert parse_expires("0", NOW) == 0                    # invalid = already expired
    assert parse_expires("Sun, 06 Nov 1994 08:49:37 -0000", 784111777.0) == 0


def test_parse_retry_after():
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after(" 120 ", NOW) == 120
    assert parse_retry_after(http_date(NOW + 900), NOW) == 900
    assert parse_retry_after(http_date(NOW - 900), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None


# --- after a success ------------------------------------------------------------------------

def test_nothing_asked_uses_the_operator_interval():
    assert after_success(ttl_minutes=None, headers={}) == 1800
    assert after_success(ttl_minutes=None, headers={}, interval=7200) == 7200


def test_ttl():
    assert after_success(ttl_minutes=60, headers={}) == 3600


def test_max_age():
    assert after_success(ttl_minutes=None, headers={"Cache-Control": "public, max-age=7200"}) == 7200


def test_expires():
    assert after_success(ttl_minutes=None, headers={"Expires": http_date(NOW + 3 * HOUR)}) == 10800


def test_headers_are_case_insensitive():
    assert after_success(ttl_minutes=None, headers={"cache-control": "max-age=7200"}) == 7200
    assert after_success(ttl_minutes=None, headers={"EXPIRES": http_date(NOW + 3 * HOUR)}) == 10800
    assert after_success(ttl_minutes=None, headers={"retry-after": "5000"}) == 5000


def test_largest_ask_wins():
    headers = {"Cache-Control": "max-age=7200", "Retry-After": "9000"}
    assert after_success(ttl_minutes=60, headers=headers) == 9000          # Retry-After largest
    assert after_success(ttl_minutes=180, headers=headers) == 3 * HOUR      # ttl largest
    assert after_success(ttl_minutes=60, headers={"Cache-Control": "max-age=7200"}) == 7200


def test_max_age_overrides_expires():  # RFC 9111 §5.3
    headers = {"Cache-Control": "max-age=7200", "Expires": http_date(NOW + 5 * HOUR)}
    assert after_success(ttl_minutes=None, headers=headers) == 7200


@pytest.mark.parametrize("cc", ["no-store", "no-cache", "no-store, max-age=7200", "max-age=7200, no-cache"])
def test_no_store_and_no_cache_ask_for_nothing(cc):
    assert after_success(ttl_minutes=None, headers={"Cache-Control": cc}) == 1800
    assert after_success(ttl_minutes=None, headers={"Cache-Control": cc,
                                                    "Expires": http_date(NOW + 5 * HOUR)}) == 1800
    assert after_success(ttl_minutes=60, headers={"Cache-Control": cc}) == 3600


def test_clamped_to_min_interval():
    assert after_success(ttl_minutes=1, headers={}) == 600
    assert after_success(ttl_minutes=None, headers={"Cache-Control": "max-age=30"}) == 600
    assert after_success(ttl_minutes=None, headers={}, interval=60) == 600
    assert after_success(ttl_minutes=1, headers={}, policy=Policy(min_interval=120)) == 120


def test_clamped_to_max_interval():
    assert after_success(ttl_minutes=7 * 24 * 60, headers={}) == 86400
    assert after_success(ttl_minutes=None, headers={"Retry-After": str(10 * 86400)}) == 86400
    assert after_success(ttl_minutes=None, headers={}, interval=10 * 86400) == 86400
    assert after_success(ttl_minutes=600, headers={}, policy=Policy(max_interval=4 * HOUR)) == 4 * HOUR


def test_success_is_deterministic():
    random.seed(1)  # no jitter after a success: the global RNG's state changes nothing
    results = {after_success(ttl_minutes=None, headers={}) for _ in range(20)}
    assert results == {1800}


# --- after a failure ------------------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap():
    delays = [after_failure(n) for n in range(1, 12)]
    assert delays[:8] == [10 * MIN, 20 * MIN, 40 * MIN, 80 * MIN, 160 * MIN, 320 * MIN, 640 * MIN, 1280 * MIN]
    assert delays[8:] == [86400, 86400, 86400]


def test_backoff_never_gives_up():
    assert after_failure(10_000) == 86400  # no overflow, still scheduled: sources are never disabled
    assert after_failure(0) == 10 * MIN    # a nonsense count behaves like the first failure


def test_jitter_stays_within_ten_percent():
    for n in (1, 4, 20):
        base = after_failure(n)
        delays = [after_failure(n, policy=Policy(), seed=s) for s in range(500)]
        assert all(0.9 * base <= d <= 1.1 * base for d in delays)
        assert len(set(delays)) > 400                      # it really is random ...
        assert min(delays) < 0.95 * base < 1.05 * base < max(delays)  # ... over both sides


def test_jitter_is_reproducible_with_the_rng():
    assert after_failure(3, policy=Policy(), seed=42) == after_failure(3, policy=Policy(), seed=42)


def test_retry_after_wins_when_larger():
    assert after_failure(1, retry_after=7200) == 7200
    assert after_failure(5, retry_after=7200) == 160 * MIN   # backoff larger: backoff wins
    assert after_failure(1, retry_after=7200, policy=Policy(), seed=3) == 7200


def test_retry_after_is_bounded_by_max_interval():
    assert after_failure(1, retry_after=30 * 86400) == 86400


def test_bad_policy_is_refused():
    for kw in ({"min_interval": 7200, "max_interval": 3600}, {"jitter": 1.5}, {"backoff_base": 0}):
        with pytest.raises(ValueError):
            Policy(**kw)


# --- is_due ---------------------------------------------------------------------------------

def test_is_due():
    assert is_due(None, NOW)                              # never fetched
    assert is_due(NOW - 1, NOW)                           # overdue
    assert is_due(NOW, NOW)
    assert is_due(NOW + 5, NOW)                           # within the slack
    assert is_due(NOW + 60, NOW)
    assert not is_due(NOW + 61, NOW)
    assert not is_due(NOW + 3600, NOW)
    assert is_due(NOW + 3600, NOW, force=True)
    assert not is_due(NOW + 5, NOW, slack=0)
    assert is_due(NOW + 300, NOW, slack=600)
