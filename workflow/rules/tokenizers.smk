rule train_tokenizer:
    """Train (BPE, text characters), build (k-mer, nucleotides) or take from a published model
    (pretrained) a tokenizer on the train split,
    once both splits can hold the token budget (the eval split is read for that only).
    """
    input:
        train=rules.prepare_corpus.output.train,
        eval=rules.prepare_corpus.output.eval,
    output:
        tokenizer=directory(results_path("tokenizers/{corpus}/{tokenizer}")),
    log:
        log_path("train_tokenizer/{corpus}/{tokenizer}.log"),
    # The chain to training first (here, pack_tokens, train_member): the members, most of a
    # study's time, train side by side from the start and the analysis fills the gaps.
    priority: 5
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: config["tokenizers"][wc.tokenizer],
        kind=lambda wc: config["corpora"][wc.corpus]["kind"],
        # The paper's BPE reads the whole split: the cap is not its parameter.
        max_characters=lambda wc: (
            None
            if config["tokenizers"][wc.tokenizer]["type"] == "gfms_bpe"
            else config["preparation"]["tokenizer_training_characters"]
        ),
        model_max_length=config["data"]["sequence_length"],
        hub_cache=lambda wc: (
            config["hub_cache"]
            if config["tokenizers"][wc.tokenizer]["type"] == "pretrained"
            else None
        ),
    script:
        "../scripts/train_tokenizer.py"


rule pack_tokens:
    """Tokenise both splits into fixed-length packed sequences (the token budget)."""
    input:
        tokenizer=rules.train_tokenizer.output.tokenizer,
        train=rules.prepare_corpus.output.train,
        eval=rules.prepare_corpus.output.eval,
    output:
        train=results_path("tokens/{corpus}/{tokenizer}/train.npy"),
        eval=results_path("tokens/{corpus}/{tokenizer}/eval.npy"),
        stats=results_path("tokens/{corpus}/{tokenizer}/stats.json"),
    log:
        log_path("pack_tokens/{corpus}/{tokenizer}.log"),
    priority: 5  # see train_tokenizer
    conda:
        "../../envs/data.yaml"
    params:
        data=config["data"],
        config_slice=lambda wc: STUDY.condition_slice(wc.corpus, wc.tokenizer),
    script:
        "../scripts/pack_tokens.py"


rule leakage_audit:
    """Per evaluation sequence, the share of its long k-grams (DNA: k-mers on either strand)
    found in the training tokens; and whether extraction.leakage keeps it (seqens.leakage).
    """
    input:
        tokenizer=rules.train_tokenizer.output.tokenizer,
        train=rules.pack_tokens.output.train,
        eval=rules.pack_tokens.output.eval,
    output:
        audit=results_path("extract/{corpus}/{tokenizer}/leakage.csv"),
    log:
        log_path("leakage_audit/{corpus}/{tokenizer}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        kind=lambda wc: config["corpora"][wc.corpus]["kind"],
        leakage=config["extraction"]["leakage"],
    script:
        "../scripts/leakage_audit.py"


rule corpus_table:
    """Per condition: characters, tokens, vocabulary use, unigram entropy, N and soft-mask
    fractions, and the leakage audit's summary; the audit per evaluation sequence."""
    input:
        tokens=condition_files(rules.pack_tokens.output.stats),
        corpora=condition_files(rules.prepare_corpus.output.stats),
        leakage=condition_files(rules.leakage_audit.output.audit),
    output:
        corpora=report(
            results_path("tables/corpora.csv"),
            caption="../report/corpora.rst",
            category="Corpora",
        ),
        leakage=results_path("tables/leakage.csv"),
    log:
        log_path("corpus_table.log"),
    localrule: True
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/corpus_table.py"
