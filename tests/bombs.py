"""Compression bombs made on the fly (nothing big is committed): zeros, a few KB that decode to GiBs.

Both builders compress one 8 MiB block of zeros, end it with a full flush so the next block's bytes
do not depend on what came before, and repeat those bytes: 1 GiB costs well under a second to make.
"""
from __future__ import annotations

import struct
import zlib

import brotli

MiB = 1 << 20
_BLOCK = bytes(8 * MiB)


def gzip_zeros(total: int) -> bytes:
    """A valid gzip member (header, deflate, CRC and size trailer) of `total` zero bytes, ~1/1000 the size."""
    n = max(1, total // len(_BLOCK))
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: header and trailer are ours
    first = c.compress(_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(_BLOCK, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (n * len(_BLOCK)) & 0xFFFFFFFF)
    return header + first + block * (n - 1) + c.flush() + trailer


def brotli_zeros(total: int) -> bytes:
    """A valid brotli stream of `total` zero bytes: about 2 KB for 1 GiB."""
    n = max(1, total // len(_BLOCK))
    c = brotli.Compressor(quality=4)
    first = c.process(_BLOCK) + c.flush()
    block = c.process(_BLOCK) + c.flush()
    return first + block * (n - 1) + c.finish()


def gzip_gzip_zeros(total: int) -> bytes:
    """gzip_zeros gzipped again (Content-Encoding: gzip, gzip): a few KB for 1 GiB."""
    return zlib.compress(gzip_zeros(total), 9, wbits=31)
