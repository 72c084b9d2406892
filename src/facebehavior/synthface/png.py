"""A minimal, fast PNG writer for 8-bit RGB arrays.

Pillow's PNG encoder tries every row filter and costs about four times as much as drawing a
64×64 face. Here: one "Up" filter, then deflate with ISA-L (`isal`, level 1: about 2.5× faster
than zlib) where it is installed, else zlib's Huffman-only mode (no LZ77 string matching:
sensor noise leaves few repeats to find), which is faster than zlib level 1 and, on SynthFace
images, also smaller (see docs/synthface.md). Still lossless, a standard PNG: the pixels never
depend on the compressor, the file bytes do.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_UP = 2
_IEND = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


try:
    from isal import isal_zlib
except ImportError:  # an optional speed-up: zlib below writes the same pixels
    isal_zlib = None


def _deflate(raw, level: int) -> bytes:
    """Deflate a buffer (bytes or a contiguous array) in zlib format."""
    if level == 0:
        return zlib.compress(raw, 0)
    if isal_zlib is not None:
        return isal_zlib.compress(raw, 1)
    # memLevel 8 and a full window: smaller buffers make zlib flush (and slow down) more often
    encoder = zlib.compressobj(level, zlib.DEFLATED, 15, 8, zlib.Z_HUFFMAN_ONLY)
    return encoder.compress(raw) + encoder.flush()


def encode_pngs(images: np.ndarray, level: int = 1) -> list[bytes]:
    """PNG bytes of each of (B, H, W, 3) uint8 images (deterministic for a given compressor);
    `level` 0 stores the rows uncompressed (fastest, about 1.6× larger), any other value
    compresses (ISA-L level 1, or zlib Huffman-only). The row filter runs on the whole batch."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"encode_pngs needs (B, H, W, 3) uint8 images, got {images.dtype} {images.shape}")
    batch, h, w, _ = images.shape
    rows = images.reshape(batch, h, w * 3)
    raw = np.empty((batch, h, w * 3 + 1), np.uint8)
    raw[:, :, 0] = _FILTER_UP
    raw[:, :, 1:] = rows
    raw[:, 1:, 1:] -= rows[:, :-1]  # each row as the difference from the row above (mod 256)
    head = _SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    return [head + _chunk(b"IDAT", _deflate(image, level)) + _IEND for image in raw]


def encode_png(image: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array (see `encode_pngs`)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"encode_png needs an (H, W, 3) uint8 array, got {image.dtype} {image.shape}")
    return encode_pngs(image[None], level)[0]


def write_file(path: str | Path, data: bytes) -> None:
    """Write `data` to `path`, creating it or rewriting it in place.

    An existing file is overwritten and then cut to length rather than opened with O_TRUNC:
    truncating frees its blocks, which on a file system mounted with `discard` (this project's
    VM) waits for the disk; rewriting the same blocks does not.
    """
    # Not atomic on purpose (speed, see above): a marker written last (preset.json, study_set.json) marks a whole set.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)  # cheaper than open() + a file object
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))  # a no-op unless the old file was longer
    finally:
        os.close(fd)
