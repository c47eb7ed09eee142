"""The LSH band index of stories, in memory: which grouped items share a band with new ones.

The store keeps what the index is made of, per grouped item: its fingerprint, its published time and its
story sequence number (`story_seq`, the order in which items were given a story, from a counter the store
never reuses). A process builds the index from those, a day of published items at a time as new items'
windows need them (`load_days`), and before each assignment reads the items given a story since it last
looked (`catch_up`: by other processes, or by its own transactions; the batch it grouped last it adds from
the batch itself once the store says it committed it, `add_grouped`). So the store writes nothing
per band, and a lookup is a few numpy calls for a whole feed instead of an SQL query per item.

Postings are sorted runs of (bucket << 32 | published second) and slot: the bucket is the high 32 bits of
a band key, so two binary searches find a band's items within a time window, and the last `PER_BAND` of
that range are its most recently published. Runs are merged like a binary counter (O(log n) runs). The
items of the batch being assigned are added as provisional slots and dropped again: their stories are not
committed yet, and `catch_up` reads them back once they are.

Not thread-safe: the caller holds the story lock of the store and a lock of its own.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from .near import BANDS, EMPTY_SIG, SIG_PERMS, WINDOW_SECONDS, band_matrix, signature_of

__all__ = ["DAY", "MAX_CANDIDATES", "PER_BAND", "BandIndex", "Candidates", "bucket_matrix"]

DAY = 86400
# Candidates read at most this many items per LSH band, the most recently published in the window: a band
# that templated news (a daily index report) shares with thousands of items would make every lookup read
# them all.
PER_BAND = 8
# Items sharing the most bands with a new one are compared with it, at most this many (ties: earliest
# published, then the earliest given a story).
MAX_CANDIDATES = 10
# A loaded day that no batch's window needed in this many assignments is dropped from memory.
EVICT_AFTER = 1000
# Which band buckets have postings, by the top FILTER_BITS bits of the bucket (1 MB): a query whose bucket has
# none (most of them: unrelated news shares no band) is not searched for in the runs. A false "maybe" costs a
# search only; when the index is so large that most are set, it costs one look-up a feed.
FILTER_BITS = 20
_FILTER_SHIFT = np.uint64(64 - FILTER_BITS)
_T_MAX = float(2**32 - 1)
# query // BANDS as a shift (queries, pairs and positions are never negative)
_BAND_BITS = BANDS.bit_length() - 1
assert BANDS == 1 << _BAND_BITS

Rows = Iterable[tuple[int, float, bytes]]  # (story_seq, published, fingerprint bytes)


def _seconds(pub: np.ndarray) -> np.ndarray:
    # np.clip's Python wrapper cost three times these two ufuncs on a feed's times
    floor = np.floor(pub)
    np.maximum(floor, 0.0, out=floor)
    np.minimum(floor, _T_MAX, out=floor)
    seconds: np.ndarray = floor.astype(np.uint64)
    return seconds


_LOW = 1 << 32  # a bucket's low 32 bits (zero: `_buckets`), where a sort key carries a place or a second
_LOW_MASK = np.uint64(_LOW - 1)


def _buckets(keys: np.ndarray) -> np.ndarray:
    return (keys.view(np.uint64) >> np.uint64(32)) << np.uint64(32)


def bucket_matrix(sigs: np.ndarray) -> np.ndarray:
    """The band buckets of signatures (k × SIG_PERMS uint32): k × BANDS, as postings and lookups use them."""
    return _buckets(band_matrix(sigs))


def _ranks(groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal values (`groups` sorted)."""
    if not len(groups):
        return groups
    starts = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    first = np.zeros(len(groups), np.int64)
    first[starts] = starts
    return np.arange(len(groups)) - np.maximum.accumulate(first)


def _rank_order_reference(item: np.ndarray, shared: np.ndarray, pub: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The order of candidates by item, then the most bands shared, the earliest published, the earliest given
    a story (the batch's own, seq < 0, after the stored)."""
    return np.lexsort((np.where(seq < 0, np.int64(2**62) - seq, seq), pub, -shared, item))


def _rank_order(item: np.ndarray, shared: np.ndarray, pub: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """`_rank_order_reference`, by one stable sort of (item, bands not shared, published second) in one integer:
    candidates whose integers differ are in the reference's order (a second earlier is a time earlier), and
    the runs of equal integers are put in order by the reference's last keys, each run in its place. A
    lexsort of four keys over all candidates cost as much as the rest of the lookup."""
    if not len(item) or int(item[-1]) >= 1 << 25:  # (item is sorted: `_counted`)
        return _rank_order_reference(item, shared, pub, seq)
    key = ((item.astype(np.uint64) << np.uint64(38)) | ((BANDS - shared).astype(np.uint64) << np.uint64(32))
           | _seconds(pub))
    order = np.argsort(key, kind="stable")
    ranked = key.take(order)
    tie = ranked[1:] == ranked[:-1]
    if tie.any():
        tied = np.zeros(len(ranked), bool)
        tied[1:] = tie
        tied[:-1] |= tie
        at = np.flatnonzero(tied)
        which = order.take(at)  # (stable: each run in the candidates' order, as the lexsort leaves equals)
        tied_seq = seq.take(which)
        order[at] = which.take(np.lexsort((np.where(tied_seq < 0, np.int64(2**62) - tied_seq, tied_seq),
                                           pub.take(which), ranked.take(at))))
    return order


_BYTE_SUM = np.uint64(0x0101010101010101)  # (x * _BYTE_SUM) >> 56: the sum of x's bytes, when it is below 256
assert SIG_PERMS % 8 == 0 and SIG_PERMS < 256


def _equal_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many values of each row of `a` equal the value in the same place in `b` (k × SIG_PERMS each).
    The comparison's bools (bytes of 0 or 1) are summed eight at a time as uint64 words: each byte of a row's
    word sum is at most SIG_PERMS / 8 = 16, and the sum of those bytes at most SIG_PERMS = 128, so no byte
    overflows; summing the bytes one by one as int64 cost three times as much."""
    words = (a == b).view(np.uint64).sum(axis=1)
    counts: np.ndarray = ((words * _BYTE_SUM) >> np.uint64(56)).astype(np.int64)
    return counts


def _window_tails(comp: np.ndarray, run_slots: np.ndarray, query: np.ndarray, lo_q: np.ndarray,
                  hi_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of one run (postings `comp`, sorted, and their slots): for each query, the last PER_BAND postings in
    [lo_q, hi_q] (its band in its window), from the latest: (query, slot) pairs, queries in order."""
    end = comp.searchsorted(hi_q, "right")
    # the entry before the window's end is of the same band and inside the window: there are hits
    hit = np.flatnonzero((comp.take(end - 1) >= lo_q) & (end > 0))
    end = end.take(hit)
    # the hits' window starts searched for too: cheaper than testing the PER_BAND entries before each end
    count = np.minimum(end - comp.searchsorted(lo_q.take(hit), "left"), PER_BAND)
    first = np.cumsum(count) - count  # where each hit's pairs start
    # each hit's positions from end - 1 down, the latest first
    pos = np.repeat(end - 1 + first, count) - np.arange(int(count.sum()))
    return query.take(np.repeat(hit, count)), run_slots.take(pos)


def _newest_first(pair: np.ndarray, pub: np.ndarray) -> np.ndarray:
    """The order of (pair, published) by pair, then the most recently published (whole seconds) first. The
    runs' tails come in that order already, run after run: a stable sort merges them. When two are of the
    same pair and second, the order is the one `np.argsort`'s default sort gives them, as it always was."""
    key = (pair.astype(np.uint64) << np.uint64(32)) | (np.uint64(_T_MAX) - _seconds(pub))
    order = np.argsort(key, kind="stable")
    ranked = key.take(order)
    if (ranked[1:] == ranked[:-1]).any():
        order = np.argsort(key)
    return order


def _newest_kept(pair: np.ndarray, pub: np.ndarray) -> np.ndarray | None:
    """The places of the (pair, published) that `_newest_first`'s order keeps (the first PER_BAND of each pair),
    found by a stable sort whatever order equal (pair, second) come in; None when PER_BAND cuts a run of equal
    ones (which of them are kept then depends on their order)."""
    key = (pair.astype(np.uint64) << np.uint64(32)) | (np.uint64(_T_MAX) - _seconds(pub))
    order = np.argsort(key, kind="stable")
    ranked = key.take(order)
    rank = _ranks(ranked >> np.uint64(32))
    cut = np.flatnonzero(rank == PER_BAND)
    if (ranked.take(cut) == ranked.take(cut - 1)).any():
        return None
    kept: np.ndarray = order[rank < PER_BAND]
    return kept


def _batch_pairs(grouped: np.ndarray, order: np.ndarray, n0: int) -> list[np.ndarray]:
    """The batch's (query, slot) pairs of the batch's earlier items in each query's bucket, from the buckets
    sorted (`grouped`, the high 32 bits of each or the whole) and their places (`order`); [] for none."""
    dup = grouped[1:] == grouped[:-1]
    if not dup.any():  # no two of the batch share a bucket
        return []
    shared = np.zeros(len(grouped), bool)
    shared[1:] = dup
    shared[:-1] |= dup
    at = np.flatnonzero(shared)
    first, last = grouped.searchsorted(grouped[at], "left"), grouped.searchsorted(grouped[at], "right")
    which, pos = _expand(first, last - first)
    query, other = order[at[which]], order[pos] >> _BAND_BITS
    earlier = other < query >> _BAND_BITS
    return [query[earlier], n0 + other[earlier]]


def _window_days(pubs: np.ndarray) -> list[range]:
    """The days of the windows around `pubs` (each from floor((p - WINDOW_SECONDS) / DAY) to floor((p +
    WINDOW_SECONDS) / DAY)), as the ranges their union makes, in order (a set filled with every window's
    days, one by one, cost about twice as much)."""
    if not len(pubs):
        return []
    firsts = np.floor((pubs - WINDOW_SECONDS) / DAY).astype(np.int64)
    order = np.argsort(firsts, kind="stable")
    firsts = firsts.take(order)
    lasts = np.maximum.accumulate(np.floor((pubs.take(order) + WINDOW_SECONDS) / DAY).astype(np.int64))
    gap = np.flatnonzero(firsts[1:] > lasts[:-1] + 1)  # a range ends before each gap
    starts, ends = firsts.take(np.concatenate(([0], gap + 1))), lasts.take(np.concatenate((gap, [len(firsts) - 1])))
    return [range(a, b + 1) for a, b in zip(starts.tolist(), ends.tolist())]


def _counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_counts=True)` of 1-D integers, the same arrays: its wrapper's checks, copies
    and diff cost more than these few steps on a feed's candidates."""
    values = np.sort(values)
    n = len(values)
    bound = np.empty(n + 1, bool)  # where a run of equal values starts, and the end
    bound[0] = bound[n] = True
    np.not_equal(values[1:], values[:-1], out=bound[1:n])
    at = np.flatnonzero(bound)
    return values.take(at[:-1]), at[1:] - at[:-1]


def _expand(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query index, position) for each position of the ranges [start, start + count)."""
    nz = np.flatnonzero(count)
    cnt = count[nz]
    total = int(cnt.sum())
    which = np.repeat(nz, cnt)
    offset = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return which, np.repeat(start[nz], cnt) + offset


class Candidates:
    """A batch's candidates: for each new item `item[k]`, the item it is compared with (`seq[k]` the
    stored item's story sequence number, or -1 - i for the batch's own item i) and how many of the
    SIG_PERMS signature values are equal in their low 16 bits (`equal[k]`): at least as many as are equal,
    so a pair below the threshold by this count is below it, and one above is checked on the whole values."""

    __slots__ = ("equal", "item", "seq")

    def __init__(self, item: np.ndarray, seq: np.ndarray, equal: np.ndarray) -> None:
        self.item, self.seq, self.equal = item, seq, equal


class BandIndex:
    """Grouped items of the loaded days: their published time, story sequence number and signature (slot
    arrays; the signature's values cut to their low 16 bits, half the memory, enough to rule pairs out) and
    their band postings (sorted runs)."""

    def __init__(self, epoch: str, seq: int) -> None:
        self.epoch = epoch  # the store's story epoch this index was built from
        self.seq = seq  # the last story sequence number read
        self.n = 0  # slots in use
        self.pub = np.empty(0, np.float64)
        self.seqs = np.empty(0, np.int64)
        self.day = np.empty(0, np.int32)
        self.sig = np.empty((0, SIG_PERMS), np.uint16)
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (bucket << 32 | second, sorted; slot)
        self.posted = np.zeros(1 << FILTER_BITS, bool)  # the buckets' filter (FILTER_BITS): any posting there
        self.days: dict[int, int] = {}  # loaded day → the assignment that last needed it
        self.calls = 0

    def __len__(self) -> int:
        return self.n

    # --- filling -------------------------------------------------------------------------------------
    def add(self, rows: Rows) -> None:
        """Add stored grouped items (empty fingerprints have no bands and are left out)."""
        seqs, pubs, sigs = [], [], []
        for seq, pub, blob in rows:
            sig = signature_of(blob)
            if sig != EMPTY_SIG:
                seqs.append(seq)
                pubs.append(pub)
                sigs.append(sig)
        if sigs:
            matrix = np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), SIG_PERMS)
            self._push(self._append(np.array(seqs, np.int64), np.array(pubs, np.float64), matrix))

    def add_grouped(self, seqs: np.ndarray, pubs: np.ndarray, sigs: np.ndarray, buckets: np.ndarray) -> None:
        """`catch_up` with items whose signatures (none empty) and buckets (`bucket_matrix`) are at hand: a
        batch this process grouped itself, numbered `seqs` (after `self.seq`, in order), now committed."""
        days = np.floor(pubs / DAY).tolist()  # (math.floor's days: a float equals and hashes as its int)
        if not self.days.keys() >= set(days):  # (a feed's items fall on a few days: a test per day)
            loaded = [d in self.days for d in days]
            seqs, pubs, sigs, buckets = seqs[loaded], pubs[loaded], sigs[loaded], buckets[loaded]
        if len(seqs):
            self._push(self._append(seqs, pubs, sigs, buckets))

    def _append(self, seqs: np.ndarray, pubs: np.ndarray, sigs: np.ndarray,
                buckets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """New slots for these items; returns their postings as a sorted run (not in `runs`: see `_push`)."""
        n0 = self._fill(seqs, pubs, sigs)
        if buckets is None:
            buckets = bucket_matrix(sigs)
        seconds = _seconds(pubs)
        comp = (buckets | seconds[:, None]).ravel()
        if len(comp) <= _LOW and (seconds[1:] >= seconds[:-1]).all():
            # Seconds in slot order (a batch numbered by published time): within a bucket, the stable order by
            # second is the order of the postings' places, so one sort of values (bucket | place) gives the
            # order, cheaper than an argsort.
            key = buckets.ravel() | np.arange(len(comp), dtype=np.uint64)
            key.sort()
            at = (key & _LOW_MASK).astype(np.intp)
            return comp.take(at), (at >> _BAND_BITS).astype(np.int32) + np.int32(n0)
        slots = np.repeat(np.arange(n0, self.n, dtype=np.int32), BANDS)
        order = np.argsort(comp, kind="stable")
        return comp.take(order), slots.take(order)

    def _fill(self, seqs: np.ndarray, pubs: np.ndarray, sigs: np.ndarray) -> int:
        """New slots for these items, without postings; returns the first."""
        k, n0 = len(seqs), self.n
        if n0 + k > len(self.pub):
            size = max(1024, (n0 + k) * 5 // 4)  # a quarter more: the signatures are most of the memory
            self.pub = np.resize(self.pub, size)
            self.seqs = np.resize(self.seqs, size)
            self.day = np.resize(self.day, size)
            self.sig = np.resize(self.sig, (size, SIG_PERMS))
        self.pub[n0:n0 + k] = pubs
        self.seqs[n0:n0 + k] = seqs
        self.day[n0:n0 + k] = np.floor(pubs / DAY)
        self.sig[n0:n0 + k] = sigs  # (the low 16 bits)
        self.n = n0 + k
        return n0

    def _push(self, run: tuple[np.ndarray, np.ndarray]) -> None:
        self.posted[run[0] >> _FILTER_SHIFT] = True
        self.runs.append(run)
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (c1, s1), (c2, s2) = self.runs.pop(), self.runs.pop()
            comp, slots = np.concatenate((c2, c1)), np.concatenate((s2, s1))
            order = np.argsort(comp, kind="stable")
            self.runs.append((comp.take(order), slots.take(order)))

    def catch_up(self, last: int, rows: Rows) -> None:
        """Items given a story after `self.seq`, up to `last`: those of loaded days join the index (the
        others are read with their day when a window needs it)."""
        self.add(r for r in rows if r[0] > self.seq and math.floor(r[1] / DAY) in self.days)
        self.seq = last

    def load_days(self, pubs: Iterable[float], read: Callable[[float, float], Rows]) -> None:
        """Make sure the days of every window around `pubs` are loaded; `read(since, until)` gives the grouped
        items published in [since, until)."""
        self.calls += 1
        need = _window_days(np.fromiter(pubs, np.float64))
        for days in need:  # a day at a time: a big window is not read all at once
            for d in [d for d in days if d not in self.days]:
                self.add(read(d * DAY, (d + 1) * DAY))
                self.days[d] = self.calls
        for days in need:
            self.days.update(dict.fromkeys(days, self.calls))
        if self.calls % 64 == 0:
            self._evict({d for d, used in self.days.items() if used < self.calls - EVICT_AFTER})

    def _evict(self, days: set[int]) -> None:
        if not days:
            return
        for d in days:
            del self.days[d]
        keep = ~np.isin(self.day[:self.n], np.fromiter(days, np.int64, len(days)))
        remap = np.cumsum(keep) - 1
        comp = np.concatenate([c for c, _ in self.runs]) if self.runs else np.empty(0, np.uint64)
        slots = np.concatenate([s for _, s in self.runs]) if self.runs else np.empty(0, np.int32)
        alive = keep[slots]
        comp, slots = comp[alive], remap[slots[alive]].astype(np.int32)
        order = np.argsort(comp, kind="stable")
        self.runs = [(comp[order], slots[order])] if len(comp) else []
        self.posted[:] = False  # the buckets of the items kept only
        self.posted[comp >> _FILTER_SHIFT] = True
        self.n = int(keep.sum())
        self.pub = self.pub[:len(keep)][keep]
        self.seqs = self.seqs[:len(keep)][keep]
        self.day = self.day[:len(keep)][keep]
        self.sig = self.sig[:len(keep)][keep]

    def _inside(self, pairs: list[np.ndarray], slots: list[np.ndarray], since: np.ndarray,
                until: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair, slot, published) of the pairs whose slot was published in its query's window."""
        if not pairs:
            return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.float64)
        pair, slot = (np.concatenate(pairs), np.concatenate(slots)) if len(pairs) > 1 else (pairs[0], slots[0])
        pub, item = self.pub[slot], pair >> _BAND_BITS
        inside = (pub >= since[item]) & (pub <= until[item])
        return pair[inside], slot[inside], pub[inside]

    # --- looking up ----------------------------------------------------------------------------------
    def candidates(self, sigs: np.ndarray, pubs: np.ndarray, buckets: np.ndarray | None = None) -> Candidates:
        """The candidates of a batch of new items (signatures `sigs`, none empty; published `pubs`), in
        the order they are to be assigned: stored items and the batch's earlier items that share a band
        and were published within WINDOW_SECONDS; per band the PER_BAND most recently published; per item
        the MAX_CANDIDATES sharing the most bands. `buckets`: `bucket_matrix(sigs)`, when the caller has it."""
        n0 = self._fill(-1 - np.arange(len(sigs), dtype=np.int64), pubs, sigs)  # the batch's slots: no postings
        try:
            return self._candidates((bucket_matrix(sigs) if buckets is None else buckets).ravel(), pubs, n0)
        finally:
            self.n = n0

    def _candidates(self, buckets: np.ndarray, pubs: np.ndarray, n0: int) -> Candidates:
        # query q = item * BANDS + band; searchsorted takes the keys unsorted (sorting them saved it nothing)
        since, until = pubs - WINDOW_SECONDS, pubs + WINDOW_SECONDS
        # only the queries whose bucket may have postings (self.posted), in order
        query = np.flatnonzero(self.posted.take(buckets >> _FILTER_SHIFT)) if self.runs else buckets[:0]
        posted = buckets[query]
        of = query >> _BAND_BITS
        lo_q = posted | _seconds(since[of])
        hi_q = posted | _seconds(until[of])
        pairs, slots = [], []
        for comp, run_slots in self.runs if len(query) else []:  # stored: the last PER_BAND of each band's window
            pair, slot = _window_tails(comp, run_slots, query, lo_q, hi_q)
            if len(pair):
                pairs.append(pair)
                slots.append(slot)
        # the batch: each query's earlier items in its bucket (all of them: `_inside` below keeps the window's),
        # from one sort of values (bucket | place): the buckets in order, equal ones by place
        key = buckets | np.arange(len(buckets), dtype=np.uint64)
        key.sort()
        batch = _batch_pairs(key >> np.uint64(32), (key & _LOW_MASK).astype(np.intp), n0)
        pair, slot, pub = self._inside(pairs + batch[:1], slots + batch[1:], since, until)
        if not len(pair):
            return Candidates(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
        if np.bincount(pair).max() > PER_BAND:  # from several runs or the batch: PER_BAND of all
            kept = _newest_kept(pair, pub)
            if kept is None:  # which of equal ones are kept depends on the batch's order: found as it always was
                order = np.argsort(buckets)
                batch = _batch_pairs(buckets[order], order, n0)
                pair, slot, pub = self._inside(pairs + batch[:1], slots + batch[1:], since, until)
                order = _newest_first(pair, pub)
                pair, slot = pair[order], slot[order]
                kept = np.flatnonzero(_ranks(pair) < PER_BAND)
            pair, slot = pair.take(kept), slot.take(kept)
        item = pair >> _BAND_BITS
        bits = max(self.n - 1, 1).bit_length()  # (item, slot) in one integer, in the same order as item * n + slot
        code, shared = _counted((item << bits) | slot)
        item, slot = code >> bits, code & ((1 << bits) - 1)
        seq = self.seqs[slot]
        many = np.bincount(item)  # candidates of each item (items in order: `_counted` sorted them)
        if many.max(initial=0) > MAX_CANDIDATES:  # those of an item with more: the ones sharing the most bands
            # (ties: earliest published, then earliest given a story; the batch's own after the stored)
            order = _rank_order(item, shared, self.pub[slot], seq)
            ranked = item.take(order)
            keep = _ranks(ranked) < MAX_CANDIDATES
            order = order[keep]
            item, slot, seq = ranked[keep], slot.take(order), seq.take(order)
        # the batch's signatures are its pending slots (low 16 bits)
        return Candidates(item, seq, _equal_counts(self.sig.take(slot, axis=0), self.sig.take(n0 + item, axis=0)))
