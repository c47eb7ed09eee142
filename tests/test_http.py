"""The shared HTTP layer (tidings.http): bounded decoding with the cap on decoded bytes, redirects
and the total-time limit, Retry-After, HTML charsets. Requests go to the local server on 127.0.0.1."""
from __future__ import annotations

import asyncio
import functools
import gzip
import time
import zlib
from collections.abc import Callable

import brotli
import pytest
from bombs import MiB, brotli_zeros, gzip_gzip_zeros, gzip_zeros

from tidings import http
from tidings.http import (
    FetchError,
    Limits,
    content_decoder,
    decode_html,
    open_url,
    retry_after_seconds,
)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda b: b,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
}


# brotli at a quality that takes milliseconds, not seconds, for the MiBs of the tests that read large bodies
QUICK_BROTLI: dict[str, Callable[[bytes], bytes]] = {
    "br": lambda b: brotli.compress(b, quality=4),
    "gzip, br": lambda b: brotli.compress(gzip.compress(b), quality=4),
}


@functools.cache
def encoded(encoding: str, body: bytes) -> bytes:
    return QUICK_BROTLI.get(encoding, ENCODERS[encoding])(body)


def test_brotli_is_decoded_in_bounded_steps_here():
    # brotli >= 1.2 is what makes br safe to offer; without it the br tests below would prove nothing.
    assert http.BROTLI and "br" in http.ACCEPT_ENCODING


# --- the decoder: no single step makes more than PIECE bytes -------------------------------------------

BOMBS = {
    "br": lambda: brotli_zeros(1 << 30),
    "gzip": lambda: gzip_zeros(256 * MiB),
    "gzip, gzip": lambda: gzip_gzip_zeros(1 << 30),
    "deflate": lambda: zlib.compress(bytes(64 * MiB), 1),
    "deflate (raw)": lambda: raw_deflate(bytes(64 * MiB)),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_fed_whole_comes_out_in_bounded_pieces(name):
    bomb = BOMBS[name]()
    decoder = content_decoder(name.split(" (")[0])
    started, total, biggest = time.monotonic(), 0, 0
    for piece in decoder.feed(bomb):  # the whole bomb in one call, as one network chunk could carry it
        biggest = max(biggest, len(piece))
        total += len(piece)
        if total > 32 * MiB:  # a reader would have stopped at its cap by now
            break
    assert total > 32 * MiB
    # zlib's max_length is exact; brotli's output_buffer_limit is where its buffer stops growing,
    # so one brotli step can give about twice PIECE. Either way: MiBs, never the whole GiB.
    assert biggest <= 4 * http.PIECE
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("encoding", list(ENCODERS))
@pytest.mark.parametrize("step", [None, 65536, 1000])
def test_a_body_of_many_pieces_comes_out_whole(encoding, step):
    """More than a PIECE of output, fed whole or as the network gives it: every byte comes out (brotli 1.2.1
    kept a step's leftover output to itself once told more input was welcome; flush takes it)."""
    body = b"".join(b"<p>line %d of a long feed, told at some length</p>\n" % i for i in range(45_000))  # ~2.3 MiB
    data = encoded(encoding, body)
    decoder = content_decoder(None if encoding == "identity" else encoding)
    step = step or len(data)
    pieces = [p for at in range(0, len(data), step) for p in decoder.feed(data[at:at + step])]
    assert b"".join(pieces + list(decoder.flush())) == body


def test_unsupported_and_corrupt_encodings():
    with pytest.raises(http.DecodeError, match="zstd"):
        content_decoder("zstd")
    assert b"".join(content_decoder("utf-8").feed(b"abc")) == b"abc"  # a misconfigured label: ignored
    with pytest.raises(http.DecodeError):
        list(content_decoder("gzip").feed(b"\x1f\x8b\x08\x00not gzip at all"))


# --- reading a response: the cap counts decoded bytes as they arrive -------------------------------------

PAGE = b"".join(b"<p>line %d of the story, told at some length</p>\n" % i for i in range(6000))  # ~300 KB


def get(url: str, limits: Limits) -> tuple[bytes, str]:
    async def go() -> tuple[bytes, str]:
        async with http.make_client(user_agent="tidings-test") as client, \
                open_url(client, url, limits) as reply:
            return await reply.read(), reply.url
    return asyncio.run(go())


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_cap_is_on_decoded_bytes(server, encoding):
    body = ENCODERS[encoding](PAGE)
    assert len(body) < 100_000 or encoding == "identity"
    headers = {} if encoding == "identity" else {"Content-Encoding": encoding}
    url = server.add("/" + encoding.replace(", ", "-"), body, content_type="text/html", headers=headers)
    assert get(url, Limits(max_bytes=len(PAGE)))[0] == PAGE  # exactly at the cap: fine
    with pytest.raises(FetchError, match=r"^too large") as e:
        get(url, Limits(max_bytes=100_000))
    assert not e.value.retry
    if encoding != "identity":  # cut while decoding, not from the small Content-Length
        assert str(e.value) == "too large (more than 100,000 bytes)"


def test_identity_without_content_length_is_counted_as_it_arrives(server):
    def close_delimited(h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            for _ in range(100):
                h.wfile.write(b"x" * 10_000)
        except (BrokenPipeError, ConnectionResetError):
            pass

    server.server.handle_error = lambda request, address: None
    url = server.add("/stream", handler=close_delimited)
    with pytest.raises(FetchError, match=r"^too large \(more than 100,000 bytes\)$"):
        get(url, Limits(max_bytes=100_000))
    assert len(get(url, Limits(max_bytes=1_000_000))[0]) == 1_000_000


def test_declared_length_over_the_cap_fails_before_reading(server):
    url = server.add("/big", b"x" * 5000, content_type="text/html")
    with pytest.raises(FetchError, match=r"^too large \(5,000 bytes > 4,096 bytes\)$"):
        get(url, Limits(max_bytes=4096))


def test_undecodable_body_has_a_reason(server):
    url = server.add("/z", b"\x28\xb5\x2f\xfd" + b"x" * 100, headers={"Content-Encoding": "zstd"})
    with pytest.raises(FetchError, match="cannot decode the response: unsupported Content-Encoding 'zstd'"):
        get(url, Limits())


# --- redirects and the total time --------------------------------------------------------------------

def test_redirects_are_followed_here_up_to_the_limit(server):
    final = server.add("/final", b"done", content_type="text/plain")
    server.add("/hop2", status=307, headers={"Location": "/final"})
    server.add("/hop1", status=302, headers={"Location": server.url("/hop2")})
    assert get(server.url("/hop1"), Limits(max_redirects=2)) == (b"done", final)
    with pytest.raises(FetchError, match=r"^too many redirects \(more than 1\)$"):
        get(server.url("/hop1"), Limits(max_redirects=1))


def test_the_time_limit_covers_the_body(server):
    url = server.add("/trickle", b"x" * 200, trickle=0.02)  # each byte on time, the whole far too slow
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"^timed out after 0.5 s$") as e:
        get(url, Limits(timeout=0.5))
    assert e.value.retry
    assert time.monotonic() - started < 2


def test_address_policy_refuses_loopback_before_sending(server):
    url = server.add("/private", b"secret", content_type="text/html")

    async def go(policy: http.AddressPolicy) -> bytes:
        async with http.make_client(user_agent="tidings-test") as client, \
                open_url(client, url, Limits(), policy=policy) as reply:
            return await reply.read()

    with pytest.raises(http.BlockedAddress, match="loopback"):
        asyncio.run(go(http.AddressPolicy()))
    assert server.hits["/private"] == 0
    assert asyncio.run(go(http.AddressPolicy(allow_private=True))) == b"secret"


# --- Retry-After ---------------------------------------------------------------------------------------

def test_retry_after():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(" 7 ") == 7
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420) == 60
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412600) == 0  # already past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds("") is None and retry_after_seconds(None) is None


# --- HTML charset --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,content_type,expected", [
    ("<p>长春</p>".encode("gbk"), "text/html; charset=GBK", "<p>长春</p>"),
    ("<p>长春</p>".encode(), "text/html; charset=gb2312", "<p>长春</p>"),  # UTF-8 labelled gb2312
    ('<meta charset="big5"><p>長春</p>'.encode("big5"), None, '<meta charset="big5"><p>長春</p>'),
    ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>长春</p>'.encode("gb2312"),
     "text/html", '<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>长春</p>'),
    ("<p>长春</p>".encode("gb18030"), None, "<p>长春</p>"),  # no label, not UTF-8: GB18030
    (b"\xff\xfe" + "<p>é</p>".encode("utf-16-le"), None, "<p>é</p>"),  # a BOM decides
    ("café".encode("cp1252"), "text/html; charset=iso-8859-1", "café"),
    (b"<p>x</p>", "text/html; charset=base64", "<p>x</p>"),  # not a text encoding: ignored
])
def test_decode_html(body, content_type, expected):
    assert decode_html(body, content_type) == expected


def test_decode_html_never_fails():
    assert decode_html(b"caf\xe9 \x81\xff", None).startswith("caf")


# --- charset labels: codec_for, shared with parse (tests/test_parse.py reads feeds with the same labels) ----

@pytest.mark.parametrize("labels,codec", [
    # Latin-1 and ASCII, however spelt: windows-1252, as WHATWG says and as feedparser ends up reading them
    (["iso-8859-1", "iso8859-1", "ISO_8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"], "cp1252"),
    # GB2312 and GBK, however spelt: GB18030, the superset of both
    (["gb2312", "euc-cn", "euc_cn", "csgb2312", "gb_2312-80", "chinese", "gbk", "cp936", "windows-936", "x-gbk"],
     "gb18030"),
    (["big5", "csbig5"], "big5hkscs"),
    (["x-user-defined"], "cp1252"),  # HTML's prescan reads it as windows-1252
    (["x-euc-jp", "euc-jp"], "euc_jp"),
    (["x-sjis", "shift_jis"], "shift_jis"),
    ([" UTF-8 ", '"utf8"', "'utf-8'"], "utf-8"),
])
def test_codec_for_reads_every_spelling_of_a_label_alike(labels, codec):
    assert {label: http.codec_for(label) for label in labels} == dict.fromkeys(labels, codec)


@pytest.mark.parametrize("label", [
    None, "", "x-klingon", "../../etc",
    "unicode", "utf-16", "utf-16le", "utf-32", "UTF-32BE",  # a label in ASCII-compatible bytes is never true of these
    "base64", "rot13", "zlib", "hex",  # bytes-to-bytes codecs
    "undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape",  # Python's codecs, no document's
])
def test_codec_for_refuses_what_is_no_charset(label):
    assert http.codec_for(label) is None


LATIN = "“café” – 50 €"  # in cp1252: 0x93 … 0x94 0x96 … 0x80, C1 controls if read as ISO-8859-1
HAN = "长春䶮"  # 䶮 (U+4DAE) is in GB18030 only (four bytes), neither in GB2312 nor in GBK
JA = "日本語のニュース"  # GB18030, tried last, reads these EUC-JP / Shift_JIS bytes as other characters


@pytest.mark.parametrize("label,body,expected", [
    ("iso8859-1", LATIN.encode("cp1252"), LATIN),
    ("x-user-defined", LATIN.encode("cp1252"), LATIN),
    # the 0xFF decodes in no charset, so the declared one reads the body with replacements: GB18030 keeps 䶮
    ("euc-cn", HAN.encode("gb18030") + b"\xff", HAN + "\ufffd"),
    ("cp936", HAN.encode("gb18030") + b"\xff", HAN + "\ufffd"),
    ("windows-936", HAN.encode("gb18030") + b"\xff", HAN + "\ufffd"),
    ("csgb2312", HAN.encode("gb18030") + b"\xff", HAN + "\ufffd"),
    ("x-euc-jp", JA.encode("euc_jp"), JA),
    ("x-sjis", JA.encode("shift_jis"), JA),
    ("unicode", b"<p>plain</p>", "<p>plain</p>"),  # refused: the bytes decide
])
def test_decode_html_reads_each_label_as_its_codec(label, body, expected):
    assert decode_html(body, f"text/html; charset={label}") == expected
    meta = f'<meta charset="{label}">'.encode()
    assert decode_html(meta + body, "text/html") == meta.decode() + expected


@pytest.mark.parametrize("label", ["undefined", "idna", "punycode", "base64"])
def test_decode_html_ignores_codecs_that_are_no_charset(label):
    # "undefined", "idna" and "punycode" raised a UnicodeError out of decode_html before codec_for refused them
    assert decode_html("café".encode("cp1252"), f"text/html; charset={label}") == "café"


# --- the budget of large bodies held at once (BodyBudget) ----------------------------------------------

BIG = b"".join(b"<p>line %d of a long feed, told at some length</p>\n" % i for i in range(45_000))  # ~2.2 MiB
assert len(BIG) > http.BodyBudget.FREE


def read_all(urls: list[str], budget: http.BodyBudget | None, limits: Limits | None = None,
             keep: Callable[[bytes], None] = lambda body: None) -> list[bytes | FetchError]:
    """Each URL's body (or failure), read at once on one loop under `budget`; `keep(body)` as each arrives."""
    async def one(client, url: str) -> bytes | FetchError:
        try:
            async with open_url(client, url, limits or Limits()) as reply:
                body = await reply.read()
        except FetchError as e:
            return e
        keep(body)
        return body

    async def go() -> list[bytes | FetchError]:
        http.body_budget.set(budget)
        async with http.make_client(user_agent="tidings-test", connections=len(urls)) as client:
            return list(await asyncio.gather(*(one(client, u) for u in urls)))
    return asyncio.run(go())


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_a_budget_changes_no_body_and_holds_a_large_ones_size(server, encoding):
    headers = {} if encoding == "identity" else {"Content-Encoding": encoding}
    big = server.add("/big", encoded(encoding, BIG), headers=headers)
    small = server.add("/small", encoded(encoding, PAGE), headers=headers)
    budget = http.BodyBudget(8 * MiB)
    assert read_all([big, small], budget) == read_all([big, small], None) == [BIG, PAGE]
    assert budget.held == len(BIG)  # the large body's size, until its owner drops it; the small one is free
    budget.give_back(len(BIG))
    assert budget.held == 0


def test_a_failed_read_keeps_nothing_of_the_budget(server):
    def cut_short(h) -> None:  # promises more than it sends
        h.send_response(200)
        h.send_header("Content-Length", str(2 * len(BIG)))
        h.end_headers()
        h.close_connection = True
        h.wfile.write(BIG)

    server.server.handle_error = lambda request, address: None
    bomb = server.add("/bomb", gzip_zeros(64 * MiB), headers={"Content-Encoding": "gzip"})
    short = server.add("/short", handler=cut_short)
    budget = http.BodyBudget(64 * MiB)
    results = read_all([bomb, short], budget, Limits(max_bytes=8 * MiB))
    assert [str(r).split(":")[0] for r in results] == ["too large (more than 8 MiB)", "connection broken"]
    assert budget.held == 0


def test_large_bodies_wait_for_room_and_all_arrive(server):
    """Eight large bodies through a budget of one: each waits for the one before to be dropped (its owner
    releases it as it arrives), none times out for waiting, and no more than the budget is ever held."""
    urls = [server.add(f"/big{i}", BIG) for i in range(8)]
    budget = http.BodyBudget(len(BIG))
    most = 0

    def keep(body: bytes) -> None:
        nonlocal most
        most = max(most, budget.held)
        budget.release(body)

    started = time.monotonic()
    assert read_all(urls, budget, Limits(timeout=5), keep) == [BIG] * 8
    assert most == len(BIG)
    assert budget.held == 0
    assert time.monotonic() - started < 5


def test_waiting_for_room_is_not_the_servers_time(server):
    """A read held back by the budget longer than its time limit still gets its body: the wait moves the
    deadline on."""
    url = server.add("/big", BIG)
    budget = http.BodyBudget(len(BIG))

    async def go() -> bytes:
        http.body_budget.set(budget)
        held = await budget.reserve(len(BIG))  # someone else's large body
        asyncio.get_running_loop().call_later(1.0, budget.give_back, held)
        async with http.make_client(user_agent="tidings-test") as client, \
                open_url(client, url, Limits(timeout=0.5)) as reply:
            return await reply.read()

    started = time.monotonic()
    assert asyncio.run(go()) == BIG
    assert time.monotonic() - started >= 1.0
    assert budget.held == len(BIG)


def test_budget_grants_in_turn_and_survives_cancellation():
    async def go() -> None:
        budget = http.BodyBudget(10)
        order: list[str] = []

        async def want(n: int, name: str) -> int:
            got = await budget.reserve(n)
            order.append(name)
            return got

        assert await budget.reserve(6) == 6  # fits: taken at once
        waiting = [asyncio.create_task(want(n, name)) for n, name in ((9, "gone"), (5, "a"), (1, "b"), (5, "c"))]
        await asyncio.sleep(0)
        assert order == [] and budget.held == 6  # b would fit, but waits its turn
        waiting[0].cancel()  # the head leaves: those behind it that fit are granted, in turn
        await asyncio.sleep(0)
        assert budget.held == 6 and not waiting[1].done()
        budget.give_back(6)
        assert await asyncio.gather(*waiting[1:3]) == [5, 1]
        assert order == ["a", "b"] and budget.held == 6 and not waiting[3].done()
        budget.give_back(6)
        assert await waiting[3] == 5
        budget.give_back(5)
        assert await budget.reserve(50) == 10  # more than the whole budget: capped, granted when nothing is held
        late = asyncio.create_task(budget.reserve(4))
        await asyncio.sleep(0)
        budget.give_back(10)  # grants `late`...
        late.cancel()  # ...which is cancelled before it runs: the grant comes back
        with pytest.raises(asyncio.CancelledError):
            await late
        assert budget.held == 0

    async def released() -> None:
        budget = http.BodyBudget(8 * MiB)
        await budget.reserve(len(BIG))
        await asyncio.to_thread(budget.release, BIG)  # the owner drops the body on another thread
        await asyncio.sleep(0)
        assert budget.held == 0
        budget.release(PAGE)  # a small body was never reserved: nothing to give back
        await asyncio.sleep(0)
        assert budget.held == 0

    asyncio.run(go())
    asyncio.run(released())
