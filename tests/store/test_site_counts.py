"""Store.site_counts (aggregated by the backend) gives exactly what counting the streamed items one by one gives: per
node, per local day (around midnights, DST changes, fractional and pre-1970 timestamps) and, for big
days, per first character of the item ids."""
from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tidings.publish.site import samples
from tidings.store import IngestRow


def _times(tz: ZoneInfo) -> list[datetime]:
    utc = UTC
    out = []
    for day in (datetime(2024, 3, 10), datetime(2024, 3, 31), datetime(2024, 11, 3), datetime(2024, 6, 1),
                datetime(1969, 12, 31), datetime(1969, 12, 30)):  # before 1970: floor, not truncation
        midnight = day.replace(tzinfo=tz).astimezone(utc)  # local midnight (DST-change days included)
        for delta in (-1, -1e-6, 0, 1e-6, 0.5, 899.999, 900, 3600 * 5):
            out.append(midnight + timedelta(seconds=delta))
    for ts in (-1e6 - 0.3, -900.25, -900.0, -1.5, -0.5, 0.0, 0.25, 899.75, 900.0):
        out.append(datetime.fromtimestamp(ts, utc))
    return out


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kathmandu"])
def test_count_matches_counting_the_stream(store_factory, zone):
    tz = ZoneInfo(zone)
    store = store_factory()
    sources = samples.make_sources()
    store.sync_sources(sources)
    rng = random.Random(3)
    times = _times(tz)
    store.upsert_entries([IngestRow(*samples.entry(sources[k % len(sources)], k, when, rng, size=200))
                          for k, when in enumerate(times * 3)])
    store.sync_sources(sources[:-1])  # the last source's items are no longer shown: not counted either
    want_nodes, want_days, want_heads, total = Counter(), Counter(), Counter(), 0
    for it in store.iter_site_items(html=False):
        total += 1
        names = tuple(it.categories)
        for i in range(1, len(names) + 1):
            want_nodes[names[:i]] += 1
        d = it.published.astimezone(tz).date()
        want_days[d] += 1
        want_heads[(d, it.id[:1])] += 1
    gone = sum(1 for k in range(len(times) * 3) if k % len(sources) == len(sources) - 1)
    assert total == len(times) * 3 - gone > 100
    counts = store.site_counts(tz, heads_over=0)
    assert counts.total == total
    assert counts.nodes == want_nodes
    assert counts.days == want_days
    assert counts.heads == want_heads
    # Only days over the threshold get per-character counts.
    big = max(want_days.values())
    few = store.site_counts(tz, heads_over=big - 1)
    assert {d for d, _ in few.heads} == {d for d, n in want_days.items() if n == big}
    assert not store.site_counts(tz).heads
    store.close()
