"""The data's entropy rate: bits per base (DNA) or per character (text) of a prepared corpus's
held-out split, given its training split, by two kinds of estimate (rule entropy_rate):

- ``mixture``: the mixed-order model of seqens.markov (orders up to 16 and beyond for DNA,
  as DNA compressors mix them), counted on the training split and predicting the held-out
  split symbol by symbol. DNA: symbols are A, C, G, T; an N breaks the context and is not
  predicted; the training split is counted on both strands (its reverse complement
  appended: GeCo's "inverted repeats"). Text: symbols are the UTF-8 bytes the training split
  holds, plus one for a byte it lacks (its identity is not coded: a slight underestimate,
  only where held-out text has bytes training text never had); each document is its own
  context; bits per character = the bytes' bits / the characters. It counts the training
  split only: the held-out split is predicted, never learned from, unlike an adaptive
  compressor that also learns the repeats within what it compresses.
- ``zlib``, ``bz2``, ``lzma`` (Python's standard library, highest settings): the held-out
  split alone, compressed, 8 bits per byte of output over its characters (bases, N
  included; text: characters of the documents, joined by newlines). These know nothing of
  the training split, and they read bytes: on DNA written one byte per base they usually
  stay above 2 bits per base, worse than writing each base in 2 bits. ``lzma_2bit`` (DNA)
  compresses the held-out bases packed four to a byte (N dropped), which starts from 2 bits
  but leaves lzma byte contexts that cut across bases. Both are loose upper bounds beside
  the mixture; on A. thaliana the mixture is near 1.9 bits/base, XM/GeCo-class compressors
  reach about 1.6 on human DNA.

Large splits are read on evenly spaced lines (windows, documents) up to a cap on characters
(``train_characters``, ``held_out_characters``): the table records the characters used. The
mixture's memory peaks near 40 bytes per training base (both strands; two sorted 8-byte key
tables and their working copies).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .markov import mixed_order_bits

DNA_ALPHABET = 4
COMPRESSORS = {
    "zlib": lambda data: zlib.compress(data, 9),
    "bz2": lambda data: bz2.compress(data, 9),
    "lzma": lambda data: lzma.compress(data, preset=9 | lzma.PRESET_EXTREME),
}
_NUCLEOTIDE_CODES = np.full(256, DNA_ALPHABET, np.uint8)  # anything else (N) is a break
for _code, _base in enumerate(b"ACGT"):
    _NUCLEOTIDE_CODES[_base] = _code


def evenly_spaced_lines(path: str | Path, max_characters: int | None) -> list[bytes]:
    """The lines of a prepared split (newlines stripped, empty ones skipped); with a cap, the
    evenly spaced ones whose total length is about ``max_characters`` (whole lines)."""
    with open(path, "rb") as handle:
        lengths = np.array([len(line) - line.endswith(b"\n") for line in handle], dtype=np.int64)
    wanted = np.flatnonzero(lengths > 0)
    total = int(lengths[wanted].sum())
    if max_characters is not None and total > max_characters:
        count = max(1, round(len(wanted) * max_characters / total))
        wanted = wanted[np.unique(np.linspace(0, len(wanted) - 1, count).round().astype(np.int64))]
    keep = np.zeros(len(lengths), bool)
    keep[wanted] = True
    with open(path, "rb") as handle:
        return [line.rstrip(b"\n") for line, kept in zip(handle, keep) if kept]


def nucleotide_stream(lines: list[bytes], *, both_strands: bool = False) -> np.ndarray:
    """ACGT as 0..3, everything else and the boundary after each line a break (4); with
    ``both_strands`` the reverse complement follows."""
    stream = _NUCLEOTIDE_CODES[np.frombuffer(b"N".join(lines) + b"N", np.uint8)]
    if both_strands:
        complement = np.where(stream < DNA_ALPHABET, DNA_ALPHABET - 1 - stream, DNA_ALPHABET).astype(np.uint8)
        stream = np.concatenate([stream, complement[::-1]])
    return stream


def byte_streams(train: list[bytes], held_out: list[bytes]) -> tuple[np.ndarray, np.ndarray, int]:
    """Text as symbol streams of UTF-8 bytes: the training lines' distinct bytes as 0..m-1, a
    byte training never had as m, a break after each line; and the alphabet size m + 1."""
    train_bytes = np.frombuffer(b"\n".join(train) + b"\n", np.uint8)
    seen = np.setdiff1d(np.unique(train_bytes), [ord("\n")])
    alphabet = len(seen) + 1
    codes = np.full(256, alphabet - 1, np.int64)
    codes[seen] = np.arange(len(seen))
    codes[ord("\n")] = alphabet  # the break
    held_out_bytes = np.frombuffer(b"\n".join(held_out) + b"\n", np.uint8)
    return codes[train_bytes], codes[held_out_bytes], alphabet


def compressed_bits(data: bytes) -> dict[str, int]:
    """Bits of each standard-library compressor's output for ``data``."""
    return {name: 8 * len(compress(data)) for name, compress in COMPRESSORS.items()}


def pack_two_bits(lines: list[bytes]) -> tuple[bytes, int]:
    """The A/C/G/T of the lines, four bases to a byte (N dropped); and the bases packed."""
    codes = _NUCLEOTIDE_CODES[np.frombuffer(b"".join(lines), np.uint8)]
    codes = codes[codes < DNA_ALPHABET]
    padded = np.zeros(-(-len(codes) // 4) * 4, np.uint8)
    padded[: len(codes)] = codes
    quads = padded.reshape(-1, 4)
    return (quads[:, 0] << 6 | quads[:, 1] << 4 | quads[:, 2] << 2 | quads[:, 3]).astype(np.uint8).tobytes(), len(codes)


def entropy_rate_table(
    kind: str,
    train_path: str | Path,
    held_out_path: str | Path,
    *,
    dna_orders: list[int],
    text_orders: list[int],
    prior_strength: float,
    forgetting: list[float],
    train_characters: int | None,
    held_out_characters: int | None,
) -> pd.DataFrame:
    """One row per estimate: ``model`` (mixture, zlib, bz2, lzma; DNA: lzma_2bit),
    ``bits_per_character``, ``characters`` (held-out characters or bases it is over),
    ``train_characters`` (those counted; mixture only) and ``max_order`` (mixture only)."""
    train = evenly_spaced_lines(train_path, train_characters)
    held_out = evenly_spaced_lines(held_out_path, held_out_characters)
    if kind == "dna":
        orders = dna_orders
        train_stream = nucleotide_stream(train, both_strands=True)
        held_out_stream = nucleotide_stream(held_out)
        alphabet = DNA_ALPHABET
        scored_characters = int((held_out_stream < DNA_ALPHABET).sum())
        train_counted = int((train_stream < DNA_ALPHABET).sum()) // 2
    else:
        orders = text_orders
        train_stream, held_out_stream, alphabet = byte_streams(train, held_out)
        scored_characters = sum(len(line.decode("utf-8")) for line in held_out)
        train_counted = sum(len(line.decode("utf-8")) for line in train)
    bits = mixed_order_bits(
        train_stream, held_out_stream, alphabet_size=alphabet, orders=orders,
        prior_strength=prior_strength, forgetting=forgetting,
    )
    rows = [{"model": "mixture", "bits_per_character": bits.sum() / scored_characters,
             "characters": scored_characters, "train_characters": train_counted, "max_order": max(orders)}]
    data = b"".join(held_out) if kind == "dna" else b"\n".join(held_out)
    characters = len(data) if kind == "dna" else scored_characters
    rows += [{"model": name, "bits_per_character": size / characters, "characters": characters}
             for name, size in compressed_bits(data).items()]
    if kind == "dna":
        packed, bases = pack_two_bits(held_out)
        rows.append({"model": "lzma_2bit", "bits_per_character": 8 * len(COMPRESSORS["lzma"](packed)) / bases,
                     "characters": bases})
    return pd.DataFrame(rows, columns=["model", "bits_per_character", "characters", "train_characters", "max_order"])
