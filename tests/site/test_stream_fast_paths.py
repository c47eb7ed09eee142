"""The site stream's shortcuts, each against what it replaces: ISO times without isoformat's keyword arguments,
and an item's page path and node made once per source."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from site_helpers import config

from tidings.publish.site import feeds, urls
from tidings.publish.site.context import BuildContext, Tree
from tidings.publish.site.stories import StoryIndex
from tidings.publish.site.stream import ItemStream
from tidings.store import Counts, StoredItem

# Offsets with seconds and microseconds too (isoformat writes those after the time), and a zone with DST.
offsets = st.builds(lambda s, us: timezone(timedelta(seconds=s, microseconds=us)),
                    st.integers(-86_399, 86_399), st.sampled_from([0, 0, 250_000]))
zones = st.one_of(st.none(), st.just(UTC), offsets, st.just(ZoneInfo("Europe/London")),
                  st.just(ZoneInfo("Asia/Shanghai")))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), zones)
def test_iso_seconds_is_isoformat_to_the_second(dt: datetime, tz):
    for local in (dt.replace(tzinfo=tz), dt.replace(tzinfo=tz, microsecond=0)):  # with microseconds and without
        assert feeds.iso_seconds(local) == local.isoformat(timespec="seconds")
        if tz is not None:  # the feeds' and sitemap's UTC form, as it was written before
            u = local.astimezone(UTC)
            old = u.isoformat(timespec="seconds")[:19] + "Z" if u.year >= 1000 else u.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert feeds._iso(local) == old


names = st.sampled_from(["新闻", "财经", "", "A股", "news"])


@given(st.lists(st.tuples(st.sampled_from(["k1", "k2", "k3"]), names, names, names, st.integers(0, 10**6)),
                min_size=1, max_size=40))
def test_stream_paths_and_nodes_are_the_item_by_item_ones(rows):
    """Sources whose items carry differing names (a store's stream never does: still right), ids and times."""
    ctx = BuildContext.create(config())
    start = datetime(2024, 6, 30, tzinfo=UTC)
    items = [StoredItem(key, f"id{k}", "", "", "t", "", start - timedelta(seconds=secs * 37, microseconds=k), None,
                        start, "", b"", "", [], "h", cat, src, chan) for k, (key, cat, src, chan, secs) in enumerate(rows)]
    nodes = {tuple(i.categories) for i in items}
    counts_nodes = {n[:d]: 1 for n in nodes for d in range(1, len(n) + 1)}

    class Items:  # the store's stream, of these items
        def iter_site_items(self, html, where):
            return iter(items)

    tree = Tree(Counts(len(items), counts_nodes, {date(2024, 6, 30): len(items)}), {})
    writer = SimpleNamespace(offloading=False)  # all the stream asks of its writer
    stream = ItemStream(ctx, Items(), tree, writer, False, StoryIndex({}, ctx.tz))  # type: ignore[arg-type]
    for entry, it in zip(stream, items, strict=True):
        local = it.published.astimezone(ctx.tz)
        assert entry.path == urls.item_path(local, urls.item_uid(it.source_key, it.id))
        assert entry.node == tuple(it.categories)
        assert entry.summary.iso == local.isoformat(timespec="seconds")
