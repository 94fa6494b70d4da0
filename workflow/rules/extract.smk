rule eval_positions:
    """Draw the condition's fixed evaluation sequences and masked positions (shared by all
    members), among those the leakage audit keeps when extraction.leakage sets a threshold.
    """
    input:
        eval=rules.pack_tokens.output.eval,
        leakage=rules.leakage_audit.output.audit if LEAKAGE_FILTER else [],
    output:
        positions=results_path("extract/{corpus}/{tokenizer}/positions.npz"),
    log:
        log_path("eval_positions/{corpus}/{tokenizer}.log"),
    conda:
        "../../envs/torch.yaml"
    params:
        extraction=extraction("sequences", "mask_fraction"),
        leakage_filter=LEAKAGE_FILTER,
        seed=config["data_seed"],
        tokenizer_type=lambda wc: config["tokenizers"][wc.tokenizer]["type"],
    script:
        "../scripts/eval_positions.py"


rule entropy_rate:
    """The corpus's entropy rate per base or character: a mixed-order model counted on its
    training split and general-purpose compressors, on its held-out split (seqens.entropy_rate).
    """
    input:
        train=rules.prepare_corpus.output.train,
        eval=rules.prepare_corpus.output.eval,
    output:
        table=results_path("corpora/{corpus}/entropy_rate.csv"),
    log:
        log_path("entropy_rate/{corpus}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        kind=lambda wc: config["corpora"][wc.corpus]["kind"],
        settings=config["extraction"]["entropy_rate"],
    script:
        "../scripts/entropy_rate.py"


rule data_entropy:
    """The condition's own entropy: smoothed Markov models of its tokens, order 0..K, beside
    its corpus's entropy rate; the training unigram (the baseline of learning) and the
    characters per token at the evaluation positions (bits per token -> per character).
    """
    input:
        entropy_rate=rules.entropy_rate.output.table,
        tokenizer=rules.train_tokenizer.output.tokenizer,
        train=rules.pack_tokens.output.train,
        eval=rules.pack_tokens.output.eval,
        positions=rules.eval_positions.output.positions,
    output:
        data_entropy=results_path("extract/{corpus}/{tokenizer}/data_entropy.csv"),
        targets=results_path("extract/{corpus}/{tokenizer}/targets.json"),
        unigram=results_path("extract/{corpus}/{tokenizer}/unigram.npy"),
    log:
        log_path("data_entropy/{corpus}/{tokenizer}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        max_order=config["extraction"]["markov_max_order"],
        train_sequences=config["extraction"]["markov_train_sequences"],
    script:
        "../scripts/data_entropy.py"


rule paper_positions:
    """The condition's evaluation positions under the paper's rule: Bernoulli over every
    non-pad token, [CLS] and [SEP] included (mask_fraction for the distributions; 0.15 of
    256 sequences, as the paper masks them for the Fisher and the contextual embeddings).
    """
    input:
        eval=rules.pack_tokens.output.eval,
        leakage=rules.leakage_audit.output.audit if LEAKAGE_FILTER else [],
    output:
        outputs=results_path("extract/{corpus}/{tokenizer}/paper/positions.npz"),
        masked=results_path("extract/{corpus}/{tokenizer}/paper/masked_positions.npz"),
    log:
        log_path("paper_positions/{corpus}/{tokenizer}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        extraction=extraction("sequences", "mask_fraction"),
        leakage_filter=LEAKAGE_FILTER,
        seed=config["data_seed"],
        tokenizer_type=lambda wc: config["tokenizers"][wc.tokenizer]["type"],
    script:
        "../scripts/paper_positions.py"


rule count_baselines:
    """The condition's count baselines at its evaluation positions, for members that see
    both sides of a position (two_sided: mlm, randommask, mae) or the tokens before it
    (one_sided: clm): Kneser-Ney count models of orders 0..K counted on the training split,
    their order and discounts chosen on held-out training rows (seqens.counts)."""
    input:
        tokenizer=rules.train_tokenizer.output.tokenizer,
        train=rules.pack_tokens.output.train,
        positions=rules.eval_positions.output.positions,
    output:
        log2_probs=results_path("extract/{corpus}/{tokenizer}/counts/{context}.npz"),
        selection=results_path(
            "extract/{corpus}/{tokenizer}/counts/{context}_selection.csv"
        ),
    log:
        log_path("count_baselines/{corpus}/{tokenizer}/{context}.log"),
    priority: 1  # see compare_outputs
    conda:
        "../../envs/data.yaml"
    params:
        extraction=extraction(
            "counts_max_order",
            "counts_held_out_sequences",
            "counts_train_sequences",
            "mask_fraction",
        ),
        seed=config["data_seed"],
    script:
        "../scripts/count_baselines.py"


rule extract_member:
    """One member's predicted distributions at the fixed evaluation positions, its static
    input-embedding matrix and its layer-wise empirical Fisher information, and, under the
    paper's definitions (extraction.definitions: paper), its distributions at the paper's
    positions and its mini-batch Fisher. One job, one model load: on a small member,
    starting torch costs more than all of them."""
    input:
        # The member's folder, by its manifest; and its weights, so that an altered file
        # (newer than this job's outputs) reruns the job, whose check refuses it.
        manifest=rules.train_member.output.manifest,
        weights=rules.train_member.output.weights,
        tokenizer=rules.train_tokenizer.output.tokenizer,
        positions=rules.eval_positions.output.positions,
        paper_positions=rules.paper_positions.output.outputs,
        paper_masked_positions=rules.paper_positions.output.masked,
    output:
        **CORRECTED_EXTRACTION,
        **PAPER_EXTRACTION,
    log:
        log_path(
            "extract_member/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log"
        ),
    wildcard_constraints:
        objective=alternatives(PAPER_OBJECTIVES),
    conda:
        "../../envs/torch.yaml"
    threads: config["extraction"]["threads"]
    params:
        extraction=extraction(
            "batch_size", "fisher_sequences", "fisher_method", "fisher_chunk_size"
        ),
        threads=config["extraction"]["threads"],
    script:
        "../scripts/extract_member.py"


use rule extract_member as extract_member_corrected with:
    input:
        manifest=rules.train_member.output.manifest,
        weights=rules.train_member.output.weights,
        tokenizer=rules.train_tokenizer.output.tokenizer,
        positions=rules.eval_positions.output.positions,
    output:
        **CORRECTED_EXTRACTION,
    log:
        log_path(
            "extract_member_corrected/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log"
        ),
    wildcard_constraints:
        # The members of the objectives measured under the corrected definitions only.
        objective=alternatives(CORRECTED_ONLY_OBJECTIVES),


CONTEXTUAL_STATES = results_path(
    "extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/contextual.npz"
)


rule extract_contextual:
    """The contextual embeddings of an ensemble's members, one file per member: every
    layer's hidden states, mean-pooled over each of the condition's first evaluation
    sequences, masked at their evaluation positions, and (extraction.definitions: paper) over
    the paper's 256 sequences masked as the paper masks them. One job per ensemble: loading
    the libraries costs far more than a small member's forward passes."""
    input:
        manifests=expand(
            rules.train_member.output.manifest, seed=STUDY.seeds, allow_missing=True
        ),
        weights=expand(
            rules.train_member.output.weights, seed=STUDY.seeds, allow_missing=True
        ),
        tokenizer=rules.train_tokenizer.output.tokenizer,
        positions=rules.eval_positions.output.positions,
        paper_positions=paper_masked_positions,
    output:
        states=expand(CONTEXTUAL_STATES, seed=STUDY.seeds, allow_missing=True),
    log:
        log_path(
            "extract_contextual/{corpus}/{tokenizer}/{architecture}/{objective}.log"
        ),
    # The ensembles with a member per study seed; published single models: the rule below.
    wildcard_constraints:
        architecture=alternatives(
            dict.fromkeys(
                e.architecture
                for e in ENSEMBLES
                if e.architecture not in STUDY.single_model_labels
            )
        ),
    conda:
        "../../envs/torch.yaml"
    threads: config["extraction"]["threads"]
    params:
        extraction=extraction("contextual_sequences", "batch_size"),
        threads=config["extraction"]["threads"],
        seeds=STUDY.seeds,
    script:
        "../scripts/extract_contextual.py"


use rule extract_contextual as extract_contextual_single with:
    input:
        manifests=expand(
            rules.train_member.output.manifest,
            seed=SINGLE_MODEL_SEED,
            allow_missing=True,
        ),
        weights=expand(
            rules.train_member.output.weights,
            seed=SINGLE_MODEL_SEED,
            allow_missing=True,
        ),
        tokenizer=rules.train_tokenizer.output.tokenizer,
        positions=rules.eval_positions.output.positions,
        paper_positions=paper_masked_positions,
    output:
        states=expand(CONTEXTUAL_STATES, seed=SINGLE_MODEL_SEED, allow_missing=True),
    log:
        log_path(
            "extract_contextual_single/{corpus}/{tokenizer}/{architecture}/{objective}.log"
        ),
    wildcard_constraints:
        architecture=alternatives(STUDY.single_model_labels),
    params:
        extraction=extraction("contextual_sequences", "batch_size"),
        threads=config["extraction"]["threads"],
        seeds=[SINGLE_MODEL_SEED],
