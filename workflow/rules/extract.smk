rule eval_positions:
    """Draw the condition's fixed evaluation sequences and masked positions (shared by all members)."""
    input:
        eval="results/tokens/{corpus}/{tokenizer}/eval.npy",
    output:
        positions="results/extract/{corpus}/{tokenizer}/positions.npz",
    log:
        "logs/eval_positions/{corpus}/{tokenizer}.log",
    conda:
        "../../envs/torch.yaml"
    params:
        extraction=extraction("sequences", "mask_fraction"),
        seed=config["data_seed"],
    script:
        "../scripts/eval_positions.py"


rule data_entropy:
    """The condition's own entropy: smoothed Markov models of its tokens, order 0..K, the
    training unigram (the baseline of learning) and the characters per token at the
    evaluation positions (bits per token -> per character)."""
    input:
        tokenizer="results/tokenizers/{corpus}/{tokenizer}",
        train="results/tokens/{corpus}/{tokenizer}/train.npy",
        eval="results/tokens/{corpus}/{tokenizer}/eval.npy",
        positions=rules.eval_positions.output.positions,
    output:
        markov="results/extract/{corpus}/{tokenizer}/markov.csv",
        targets="results/extract/{corpus}/{tokenizer}/targets.json",
        unigram="results/extract/{corpus}/{tokenizer}/unigram.npy",
    log:
        "logs/data_entropy/{corpus}/{tokenizer}.log",
    conda:
        "../../envs/data.yaml"
    params:
        max_order=config["extraction"]["markov_max_order"],
        train_sequences=config["extraction"]["markov_train_sequences"],
    script:
        "../scripts/data_entropy.py"


rule extract_outputs:
    """One member's predicted distributions at the fixed evaluation positions."""
    input:
        member=rules.train_member.output.member,
        tokenizer="results/tokenizers/{corpus}/{tokenizer}",
        positions=rules.eval_positions.output.positions,
    output:
        distributions="results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/distributions.npy",
        record="results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/distributions.json",
    log:
        "logs/extract_outputs/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    threads: config["extraction"]["threads"]
    params:
        extraction=extraction("batch_size"),
        threads=config["extraction"]["threads"],
    script:
        "../scripts/extract_outputs.py"


rule extract_embeddings:
    """One member's static input-embedding matrix."""
    input:
        member=rules.train_member.output.member,
        tokenizer="results/tokenizers/{corpus}/{tokenizer}",
    output:
        embeddings="results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/embeddings.npy",
    log:
        "logs/extract_embeddings/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_embeddings.py"


rule extract_fisher:
    """One member's layer-wise empirical Fisher information on the evaluation positions."""
    input:
        member=rules.train_member.output.member,
        tokenizer="results/tokenizers/{corpus}/{tokenizer}",
        positions=rules.eval_positions.output.positions,
    output:
        table="results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/fisher.csv",
        per_sequence="results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/fisher_per_sequence.npy",
    log:
        "logs/extract_fisher/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    threads: config["extraction"]["threads"]
    params:
        extraction=extraction("fisher_sequences", "fisher_method", "fisher_chunk_size"),
        threads=config["extraction"]["threads"],
    script:
        "../scripts/extract_fisher.py"
