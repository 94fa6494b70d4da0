"""Streaming corpus readers with bounded memory.

- FASTA: uncompressed files are opened with pyfaidx, from a samtools ``.fai`` index that
  ``fasta_index`` writes beside the file (or in a temporary directory when that directory is
  read-only; an existing ``.fai`` is used as it is), and each record's bases are read as
  bytes from where the index puts them; gzip and BGZF files are streamed in large blocks.
  Neither path loops over lines in Python.
- Text: documents separated by blank lines (optionally gzip), decoded strictly in the
  corpus's encoding (UTF-8 unless the config names another); a byte that does not decode, a
  NUL or a density of control characters that only binary data has is an InputError.
- JSON: a file of articles; a dotted field path with ``*`` picks the texts.
- MediaWiki XML dumps (``.xml.bz2`` or ``.xml``): streamed page by page, main namespace
  only, redirects skipped, markup reduced to plain text.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import InputError
from .io import atomic_path

CHUNK_SIZE = 1 << 22


def _compression(path: Path) -> str | None:
    """gzip or bzip2 (as the file's first bytes say), or None."""
    with open(path, "rb") as handle:
        magic = handle.read(3)
    return "gzip" if magic[:2] == b"\x1f\x8b" else "bzip2" if magic == b"BZh" else None


def _open_bytes(path: Path):
    """Open a possibly gzip- or bzip2-compressed file as a binary stream; a truncated or
    corrupt compressed file is an InputError naming it."""
    compression = _compression(path)
    if compression:
        opener = gzip.open if compression == "gzip" else bz2.open
        return io.BufferedReader(_Decompressing(opener(path, "rb"), path), buffer_size=1 << 20)
    return open(path, "rb")


class _Decompressing(io.RawIOBase):
    """A decompressing stream whose read errors name the file: a truncated gzip otherwise
    ends in a bare EOFError, a corrupt one in a zlib error, neither saying which file."""

    def __init__(self, stream, path: Path):
        self._stream, self._path = stream, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self._stream.readinto(buffer)
        except (EOFError, OSError, zlib.error) as error:
            raise InputError(f"{self._path}: truncated or corrupt compressed file ({error})") from None

    def close(self) -> None:
        self._stream.close()
        super().close()


# --- FASTA ------------------------------------------------------------------------------------


@dataclass
class FastaRecord:
    name: str
    length: int | None
    chunks: Callable[[], Iterator[str]]


def fasta_records(path: str | Path, chunk_size: int = CHUNK_SIZE) -> Iterator[FastaRecord]:
    """The records of a FASTA file; each record's ``chunks()`` yields its sequence (raw case,
    no newlines) in pieces of at most ``chunk_size`` characters."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    _check_fasta_header(path)
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    # BGZF is multi-member gzip: streaming reads it without BioPython, which pyfaidx
    # would need for it, and a whole-file pass needs no random access anyway.
    if compressed:
        yield from _stream_fasta(path, chunk_size)
    else:
        yield from _indexed_fasta(path, chunk_size)


def _check_fasta_header(path: Path) -> None:
    with _open_bytes(path) as handle:
        for line in handle:
            if line.strip():
                if not line.startswith(b">"):
                    raise InputError(f"{path}: not a FASTA file (the first line is not a '>' header)")
                return
    raise InputError(f"{path}: empty FASTA file")


def _indexed_fasta(path: Path, chunk_size: int) -> Iterator[FastaRecord]:
    import pyfaidx

    workdir = None
    index_path = path
    if not os.access(path.parent, os.W_OK) and not Path(f"{path}.fai").exists():
        # pyfaidx writes its index beside the input: index a symlink in a temporary directory.
        workdir = tempfile.mkdtemp(prefix="seqens-faidx-")
        index_path = Path(workdir) / path.name
        index_path.symlink_to(path.resolve())
    try:
        fai = Path(f"{index_path}.fai")
        if not fai.exists() or (os.access(fai.parent, os.W_OK) and fai.stat().st_mtime < path.stat().st_mtime):
            with atomic_path(fai) as tmp:
                tmp.write_text(fasta_index(path))
        try:
            fasta = pyfaidx.Fasta(str(index_path), as_raw=True, sequence_always_upper=False, rebuild=False)
        except pyfaidx.FastaIndexingError as error:
            raise InputError(f"{path}: malformed FASTA ({error})") from None
        except ValueError as error:  # an index written elsewhere, e.g. with a name twice
            raise InputError(f"{fai}: unusable FASTA index ({error}); delete it to have it rebuilt") from None
        with fasta:
            for name in fasta.keys():
                entry = fasta.faidx.index[name]
                if entry.rlen == 0:
                    raise InputError(f"{path}: record '{name}' is empty")

                def chunks(entry=entry, name=name):
                    return _indexed_chunks(path, name, entry, chunk_size)

                yield FastaRecord(name, entry.rlen, chunks)
    finally:
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _fixed_chunks(pieces: Iterator[bytes], chunk_size: int) -> Iterator[str]:
    """The concatenated pieces re-cut into chunks of chunk_size characters (the last may be
    shorter): the shape every FASTA record's ``chunks()`` yields."""
    pending = b""
    for piece in pieces:
        pending += piece
        cut = len(pending) - len(pending) % chunk_size
        for start in range(0, cut, chunk_size):
            yield pending[start : start + chunk_size].decode("latin-1")
        pending = pending[cut:]
    if pending:
        yield pending.decode("latin-1")


def _indexed_chunks(path: Path, name: str, entry, chunk_size: int, block_size: int = 1 << 22) -> Iterator[str]:
    """A record's bases, read as bytes from where pyfaidx's index puts them, line breaks
    removed by ``bytes.translate`` (pyfaidx's own fetch goes through str, twice as slow)."""

    def blocks() -> Iterator[bytes]:
        full_lines, rest = divmod(entry.rlen, entry.lenc)
        remaining = full_lines * entry.lenb + rest  # bytes from the first base to the last
        with open(path, "rb") as handle:
            handle.seek(entry.offset)
            while remaining > 0:
                block = handle.read(min(block_size, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block.translate(None, b"\r\n")

    length = 0
    for chunk in _fixed_chunks(blocks(), chunk_size):
        length += len(chunk)
        yield chunk
    if length != entry.rlen:
        raise InputError(f"{path}: record '{name}' has {length} bases where its index says {entry.rlen}")


def fasta_index(path: Path, block_size: int = 1 << 24) -> str:
    """The samtools ``.fai`` index of an uncompressed FASTA (name, length, offset of the first
    base, bases and bytes per line), computed with numpy over blocks of the file: pyfaidx's
    own indexer loops over the lines in Python and dominated preparation time. Raises
    InputError where samtools would refuse the file (uneven line lengths within a record)."""
    entries: list[list] = []
    names: set[str] = set()
    record: dict | None = None  # the record being indexed

    def close_record() -> None:
        if record is not None:
            entries.append([record["name"], record["length"], record["offset"], record["bases"], record["width"]])

    with open(path, "rb") as handle:
        tail, base = b"", 0  # an unfinished line carried over, and its offset in the file
        while True:
            chunk = handle.read(block_size)
            data = np.frombuffer(tail + chunk, dtype=np.uint8)
            ends = np.flatnonzero(data == 10)
            unterminated = not chunk and len(data) > 0 and (len(ends) == 0 or ends[-1] != len(data) - 1)
            if unterminated:
                ends = np.append(ends, len(data))  # the last line has no newline
            if len(ends):
                starts = np.concatenate([[0], ends[:-1] + 1])
                widths = ends - starts + 1  # bytes, with the newline
                widths[-1] -= unterminated
                bases = ends - starts - (data[np.maximum(ends - 1, 0)] == 13)  # without a carriage return
                is_header = (data[np.minimum(starts, len(data) - 1)] == ord(">")) & (ends > starts)
                headers = np.flatnonzero(is_header)
                bounds = np.concatenate([[0], headers, [len(starts)]])
                for first, last in zip(bounds[:-1], bounds[1:]):
                    if first < last and is_header[first]:
                        close_record()
                        header = bytes(data[starts[first] + 1 : starts[first] + bases[first]])
                        name = header.decode("latin-1").split(None, 1)[0] if header.strip() else ""
                        _check_new_name(path, name, names)
                        record = {"name": name, "length": 0, "offset": base + int(ends[first]) + 1, "bases": 0,
                                  "width": 0, "short_line": False}
                        first += 1
                    if first >= last:
                        continue
                    segment_bases, segment_widths = bases[first:last], widths[first:last]
                    if record is None:
                        if segment_bases.any():
                            raise InputError(f"{path}: not a FASTA file (the first line is not a '>' header)")
                        continue  # blank lines before the first header
                    if not record["width"]:
                        record["bases"], record["width"] = int(segment_bases[0]), int(segment_widths[0])
                    # Every line but the record's last must be full; blank lines may only trail.
                    full = (segment_bases == record["bases"]) & (segment_widths == record["width"])
                    if (record["short_line"] and segment_bases.any()) or (~full[:-1] & (segment_bases[1:] > 0)).any() \
                            or segment_bases[-1] > record["bases"]:
                        raise InputError(f"{path}: malformed FASTA (uneven line lengths in record '{record['name']}')")
                    record["length"] += int(segment_bases.sum())
                    record["short_line"] = record["short_line"] or not full[-1]
            consumed = len(data) if unterminated else (int(ends[-1]) + 1 if len(ends) else 0)
            tail, base = data[consumed:].tobytes(), base + consumed
            if not chunk:
                break
    close_record()
    return "".join("\t".join(map(str, entry)) + "\n" for entry in entries)


def _check_new_name(path: Path, name: str, seen: set[str]) -> None:
    """A record's name (the header's first word) must be there and new: records are told
    apart by name (the index, the probes' record:start origins)."""
    if not name:
        raise InputError(f"{path}: a header line has no name")
    if name in seen:
        raise InputError(f"{path}: two records are named '{name}' (the first word of the header); names must be unique")
    seen.add(name)


def _fasta_events(stream, block_size: int = 1 << 22) -> Iterator[tuple[str, bytes]]:
    """("header", line) and ("sequence", bases without line breaks) events of a FASTA byte
    stream, in file order, parsed block by block at C speed (no loop over lines)."""
    pending = b""
    while True:
        block = stream.read(block_size)
        pending += block
        cut = pending.rfind(b"\n") + 1 if block else len(pending)
        if not cut and not pending.startswith(b">"):
            cut = len(pending)  # inside one very long sequence line: pass it on
        work, pending = pending[:cut], pending[cut:]
        position = 0
        while position < len(work):  # work starts at a line start, or inside a sequence line
            if work.startswith(b">", position):
                end = work.find(b"\n", position)
                end = len(work) if end < 0 else end
                yield "header", work[position:end].rstrip(b"\r")
                position = end + 1
            else:
                header = work.find(b"\n>", position)
                stop = len(work) if header < 0 else header + 1
                yield "sequence", work[position:stop].translate(None, b"\r\n")
                position = stop
        if not block:
            return


class _StreamedRecord:
    """The sequence of one record of a streamed FASTA, up to the next header."""

    def __init__(self, events: Iterator[tuple[str, bytes]], chunk_size: int):
        self.events = events
        self.chunk_size = chunk_size
        self.length = 0
        self.next_header = b""
        self.exhausted = False

    def chunks(self) -> Iterator[str]:
        for chunk in _fixed_chunks(self._sequence(), self.chunk_size):
            self.length += len(chunk)
            yield chunk
        self.exhausted = True

    def _sequence(self) -> Iterator[bytes]:
        for kind, payload in self.events:
            if kind == "header":
                self.next_header = payload
                return
            yield payload

    def drain(self) -> None:
        if not self.exhausted:
            for _ in self.chunks():
                pass


def _stream_fasta(path: Path, chunk_size: int) -> Iterator[FastaRecord]:
    """gzip or BGZF FASTA in one pass; a record must be read before the next one is asked for."""
    names: set[str] = set()
    with _open_bytes(path) as raw:
        events = _fasta_events(raw)
        header = next((payload for kind, payload in events if kind == "header"), b"")
        while header:
            name = header[1:].decode("latin-1").split(None, 1)[0] if header[1:].strip() else ""
            _check_new_name(path, name, names)
            record = _StreamedRecord(events, chunk_size)
            yield FastaRecord(name, None, record.chunks)
            record.drain()
            if record.length == 0:
                raise InputError(f"{path}: record '{name}' is empty")
            header = record.next_header


# --- text ---------------------------------------------------------------------------------------


# Control characters other than the whitespace ones (tab, newlines, form feed): text has
# next to none, binary data decoded as Latin-1 about one in four.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
BINARY_SNIFF_CHARACTERS = 1 << 16


def text_problem(start: bytes, encoding: str, *, compressed: bool) -> str | None:
    """Why a file's first bytes (after decompression) are not text in ``encoding``: a byte
    sequence that does not decode (one cut off at the end is no failure), a NUL, control
    characters; None if they are text."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(start, final=False)
    except UnicodeDecodeError as error:
        return _decode_failure(error.object[error.start : error.end], error.start, encoding, compressed)
    return binary_evidence(text)


def _decode_failure(bad: bytes, offset: int, encoding: str, compressed: bool) -> str:
    return (
        f"not {encoding} text: the bytes {bad[:4].hex(' ')} at byte offset {offset:,}"
        f"{' of the decompressed data' if compressed else ''} do not decode (if the file has another "
        "encoding, name it with the corpus's encoding: key, e.g. latin-1)"
    )


def binary_evidence(text: str) -> str | None:
    """Why decoded text looks like binary data (a NUL, or more than 1% control characters),
    or None."""
    nul = text.find("\0")
    if nul >= 0:
        return f"not text: character {nul:,} is a NUL (a binary file? compressed files may be gzip or bzip2)"
    controls = len(_CONTROL.findall(text))
    if controls * 100 > len(text):
        return (
            f"not text: {controls:,} of its first {len(text):,} characters are control characters (a binary file, or "
            "text in another encoding than the corpus's encoding: key says?)"
        )
    return None


def _first_undecodable(path: Path, encoding: str, block_size: int = 1 << 20) -> str:
    """The file's first byte sequence that does not decode, found by a second pass (the
    streaming decoder that failed does not know its offset in the file)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0  # of the block about to be decoded
    with _open_bytes(path) as raw:
        while True:
            block = raw.read(block_size)
            pending = len(decoder.getstate()[0])  # bytes of a sequence the last block cut off
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                bad = error.object[error.start : error.end]
                return _decode_failure(bad, offset - pending + error.start, encoding, _compression(path) is not None)
            if not block:
                return f"not {encoding} text"
            offset += len(block)


def _text_lines(path: Path, raw, encoding: str) -> Iterator[str]:
    """The decoded lines, refused where they are not text (module doc)."""
    sniffed: list[str] = []
    sniffed_characters = 0
    for number, line in enumerate(io.TextIOWrapper(raw, encoding=encoding, errors="strict"), 1):
        if "\0" in line:
            raise InputError(f"{path}: line {number:,} holds a NUL: not text (a binary file? compressed files may be "
                             "gzip or bzip2)")
        if sniffed_characters < BINARY_SNIFF_CHARACTERS:
            sniffed.append(line)
            sniffed_characters += len(line)
            if sniffed_characters >= BINARY_SNIFF_CHARACTERS:
                _refuse_binary(path, "".join(sniffed))
        yield line
    if sniffed_characters < BINARY_SNIFF_CHARACTERS:
        _refuse_binary(path, "".join(sniffed))


def _refuse_binary(path: Path, text: str) -> None:
    problem = binary_evidence(text)
    if problem:
        raise InputError(f"{path}: {problem}")


def text_documents(path: str | Path, encoding: str = "utf-8") -> Iterator[str]:
    """Documents separated by blank lines; paragraphs (lines) joined with newlines."""
    path = Path(path)
    with _open_bytes(path) as raw:
        lines: list[str] = []
        try:
            for line in _text_lines(path, raw, encoding):
                line = line.strip()
                if line:
                    lines.append(line)
                elif lines:
                    yield "\n".join(lines)
                    lines = []
        except UnicodeDecodeError:
            raise InputError(f"{path}: {_first_undecodable(path, encoding)}") from None
        if lines:
            yield "\n".join(lines)


def json_documents(path: str | Path, field: str, encoding: str = "utf-8") -> Iterator[str]:
    """Texts at a dotted field path in a JSON file, ``*`` iterating over values or items.

    The file is parsed whole (JSON is not streamable); use text or MediaWiki formats for
    corpora larger than memory."""
    with _open_bytes(Path(path)) as raw:
        content = raw.read()
    # A UTF-8 byte order mark is allowed (json.load allows it too).
    bom = len(codecs.BOM_UTF8) if content.startswith(codecs.BOM_UTF8) and codecs.lookup(encoding).name == "utf-8" else 0
    try:
        data = json.loads(content[bom:].decode(encoding))
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.end]
        failure = _decode_failure(bad, bom + error.start, encoding, _compression(Path(path)) is not None)
        raise InputError(f"{path}: {failure}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    found = False
    for value in _select(data, field.split(".")):
        if isinstance(value, str):
            found = True
            if value.strip():
                yield value
    if not found:
        raise InputError(f"{path}: the field path '{field}' matches no text")


def parquet_documents(path: str | Path, field: str, batch_rows: int = 1024) -> Iterator[str]:
    """Texts of one column of a Parquet file (e.g. the published Wikipedia snapshots,
    ``wikimedia/wikipedia``), streamed in batches of rows."""
    import pyarrow
    import pyarrow.parquet as parquet

    try:
        table = parquet.ParquetFile(path)
    except (pyarrow.ArrowInvalid, OSError) as error:
        raise InputError(f"{path}: not a readable Parquet file ({error})") from None
    columns = table.schema_arrow.names
    if field not in columns:
        raise InputError(f"{path}: no column '{field}' (columns: {columns})")
    for batch in table.iter_batches(batch_size=batch_rows, columns=[field]):
        for text in batch.column(0).to_pylist():
            if isinstance(text, str) and text.strip():
                yield text


def _select(node, parts: list[str]):
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        for child in children:
            yield from _select(child, rest)
    elif isinstance(node, dict) and head in node:
        yield from _select(node[head], rest)
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        yield from _select(node[int(head)], rest)


# --- MediaWiki dumps ------------------------------------------------------------------------------

_DROP_SECTIONS = re.compile(
    r"^==+\s*(References|External links|See also|Notes|Further reading|Bibliography|Sources)\s*==+.*",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.DOTALL | re.IGNORECASE)
_TAG_BLOCK = re.compile(r"<(math|gallery|timeline|syntaxhighlight|score)[^>]*>.*?</\1>", re.DOTALL | re.IGNORECASE)
_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category|Media):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", re.IGNORECASE)
_INTERWIKI = re.compile(r"\[\[[a-z]{2,3}(?:-[a-z]+)?:[^\]]*\]\]")
_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp)://[^\s\]]+\s*([^\]]*)\]")
_HEADING = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.MULTILINE)
_QUOTES = re.compile(r"'{2,}")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_LIST = re.compile(r"^[*#:;]+\s*", re.MULTILINE)
_ENTITIES = {"&nbsp;": " ", "&ndash;": "–", "&mdash;": "—", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}


def _strip_nested(text: str, open_token: str, close_token: str) -> str:
    """Remove possibly nested spans such as {{templates}} or {| tables |} (an unclosed one
    runs to the end). The regex finds the tokens at C speed; Python visits only them."""
    kept, depth, kept_from = [], 0, 0
    for token in re.finditer(f"{re.escape(open_token)}|{re.escape(close_token)}", text):
        if token.group() == open_token:
            if depth == 0:
                kept.append(text[kept_from : token.start()])
            depth += 1
        elif depth:  # a closing token outside any span is ordinary text
            depth -= 1
            if depth == 0:
                kept_from = token.end()
    if depth == 0:
        kept.append(text[kept_from:])
    return "".join(kept)


def wikitext_to_plain(markup: str) -> str:
    """Reduce MediaWiki markup to readable article text. Reference-like trailing sections
    (References, External links, See also, ...) are dropped: they are lists, not prose."""
    text = _COMMENT.sub("", markup)
    text = _DROP_SECTIONS.sub("", text)
    text = _REF.sub("", text)
    text = _TAG_BLOCK.sub("", text)
    text = _strip_nested(text, "{{", "}}")
    text = _strip_nested(text, "{|", "|}")
    text = _FILE_LINK.sub("", text)
    text = _INTERWIKI.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _EXTERNAL.sub(r"\1", text)
    text = _HEADING.sub(r"\1", text)
    text = _QUOTES.sub("", text)
    text = _TAG.sub("", text)
    text = _LIST.sub("", text)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    paragraphs = [" ".join(p.split()) for p in text.split("\n")]
    return "\n".join(p for p in paragraphs if p)


def mediawiki_documents(path: str | Path) -> Iterator[str]:
    """Plain text of the main-namespace, non-redirect pages of a MediaWiki XML dump."""
    with _open_bytes(Path(path)) as raw:
        try:
            for _, element in ElementTree.iterparse(raw, events=("end",)):
                if _local(element.tag) != "page":
                    continue
                fields = {_local(child.tag): child for child in element}
                namespace = fields.get("ns")
                revision = fields.get("revision")
                is_article = namespace is not None and (namespace.text or "").strip() == "0"
                if is_article and "redirect" not in fields and revision is not None:
                    text = next((c.text for c in revision if _local(c.tag) == "text"), None) or ""
                    if not text.lstrip().upper().startswith("#REDIRECT"):
                        plain = wikitext_to_plain(text)
                        if plain:
                            yield plain
                element.clear()
        except ElementTree.ParseError as error:
            raise InputError(f"{path}: malformed MediaWiki XML ({error})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def documents(path: str | Path, fmt: str, field: str | None = None, encoding: str = "utf-8") -> Iterator[str]:
    """The documents of a text corpus file; ``encoding`` applies to the text and json formats
    (MediaWiki XML declares its own, Parquet stores strings)."""
    if fmt == "text":
        return text_documents(path, encoding)
    if fmt == "json":
        return json_documents(path, field, encoding)
    if fmt == "mediawiki":
        return mediawiki_documents(path)
    if fmt == "parquet":
        return parquet_documents(path, field)
    raise InputError(f"{path}: unknown text format '{fmt}' (known: text, json, parquet, mediawiki)")
