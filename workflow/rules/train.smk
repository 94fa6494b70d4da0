rule train_member:
    """Train one ensemble member (on training.devices GPUs: torchrun inside the job); resumes
    from its checkpoint if the job was interrupted. Its outputs are the files of the member's
    folder that every objective writes and extraction reads, so that a deleted one makes the
    member out of date; later rules find the folder by its manifest.json."""
    input:
        tokenizer=rules.train_tokenizer.output.tokenizer,
        train=rules.pack_tokens.output.train,
        eval=rules.pack_tokens.output.eval,
    output:
        weights=member_file("model.safetensors"),
        config=member_file("config.json"),
        tokenizer=member_file("tokenizer.json"),
        training_log=member_file("training_log.csv"),
        manifest=member_file("manifest.json"),
    log:
        log_path(
            "train_member/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log"
        ),
    # Published ensembles' labels are never trained architectures (seqens.config.checks):
    # their members are fetch_member's.
    wildcard_constraints:
        architecture="|".join(STUDY.architectures),
    priority: 5  # see train_tokenizer
    conda:
        "../../envs/torch.yaml"
    # each of its training.devices processes computes with training.threads
    threads: config["training"]["threads"] * config["training"]["devices"]
    resources:
        # What a cluster executor asks for (profiles/slurm); each GPU runs one torchrun process.
        gpu=config["training"]["devices"],
    params:
        preset=STUDY.preset(),
        training=STUDY.training_for_weights(),
        threads=config["training"]["threads"],
        data_seed=config["data_seed"],
        objective_params=lambda wc: STUDY.objective_params(wc.objective),
        config_slice=lambda wc: STUDY.member_slice(Member.from_wildcards(wc)),
        checkpoint=results_path(
            "checkpoints/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/checkpoint.pt"
        ),
    message:
        "train {wildcards.corpus}/{wildcards.tokenizer}/{wildcards.architecture}/{wildcards.objective} "
        f"seed {{wildcards.seed}}: {STUDY.training_budget()}"
    script:
        "../scripts/train_member.py"


rule fetch_member:
    """A published member (a Hub id at a revision, or a local directory) as a member folder:
    renumbered to its condition tokenizer's ids, with a manifest of the resolved commit and
    every source file's sha256 (seqens.published)."""
    input:
        tokenizer=rules.train_tokenizer.output.tokenizer,
    output:
        weights=member_file("model.safetensors"),
        config=member_file("config.json"),
        tokenizer=member_file("tokenizer.json"),
        manifest=member_file("manifest.json"),
    log:
        log_path(
            "fetch_member/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log"
        ),
    # The published ensembles' labels ("(?!)", which matches nothing, when there are none).
    wildcard_constraints:
        architecture="|".join(
            dict.fromkeys(e.architecture for e in PUBLISHED_ENSEMBLES)
        )
        or "(?!)",
    conda:
        "../../envs/torch.yaml"
    params:
        entry=lambda wc: STUDY.published_entry(
            wc.corpus, wc.tokenizer, wc.architecture, wc.objective
        ),
        hub_cache=config["hub_cache"],
    script:
        "../scripts/fetch_member.py"
