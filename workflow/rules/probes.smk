rule fetch_probe_source:
    """Copy, link or download one probe's labelled source and record its provenance."""
    input:
        lambda wc: local_source_of(config["probes"][wc.probe]["source"]),
    output:
        source="resources/probes/{probe}/{filename}",
        record="resources/probes/{probe}/provenance/{filename}.json",
    log:
        log_path("fetch_probe_source/{probe}/{filename}.log"),
    # Before the corpora's jobs, so that probe_examples is ready the moment its corpus is.
    priority: 10
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        what="probe",
        source=lambda wc: config["probes"][wc.probe]["source"],
        lock_file="config/checksums.lock.yaml",
    script:
        "../scripts/fetch_source.py"


rule probe_examples:
    """A probe's labelled examples, disjoint from its corpus's training split as the prepared
    corpus records it, with their test split."""
    input:
        unpack(probe_corpus_inputs),
        source=probe_source_file,
    output:
        examples=results_path("probes/{probe}/examples.json"),
    log:
        log_path("probe_examples/{probe}.log"),
    # First among the jobs ready with it, right after its corpus is prepared: a probe the
    # data cannot support stops the study before that corpus's tokenizers and members.
    priority: 10
    conda:
        "../../envs/data.yaml"
    params:
        spec=lambda wc: STUDY.probe_slice(wc.probe),
    script:
        "../scripts/probe_examples.py"


rule probe_ensemble:
    """Every member of one ensemble, and each untrained at its own initialisation, probed
    on its corpus's tasks; with the majority-class and count baselines."""
    input:
        examples=lambda wc: [
            expand(rules.probe_examples.output.examples, probe=name)[0]
            for name in probes_of_corpus(wc.corpus)
        ],
        manifests=lambda wc: [
            expand(rules.train_member.output.manifest, seed=seed, **wc)[0]
            for seed in STUDY.seeds
        ],
        weights=lambda wc: [
            expand(rules.train_member.output.weights, seed=seed, **wc)[0]
            for seed in STUDY.seeds
        ],
        tokenizer=rules.train_tokenizer.output.tokenizer,
    output:
        predictions=results_path(
            "probes/{corpus}/{tokenizer}/{architecture}/{objective}/predictions.csv"
        ),
    log:
        log_path("probe_ensemble/{corpus}/{tokenizer}/{architecture}/{objective}.log"),
    conda:
        "../../envs/torch.yaml"
    threads: config["extraction"]["threads"]
    params:
        seeds=STUDY.seeds,
        preset=STUDY.preset(),
        kind=lambda wc: config["corpora"][wc.corpus]["kind"],
        kmer=lambda wc: {
            name: config["probes"][name]["kmer"]
            for name in probes_of_corpus(wc.corpus)
        },
        probing=config["probing"],
        sequence_length=config["data"]["sequence_length"],
        seed=config["data_seed"],
        threads=config["extraction"]["threads"],
    script:
        "../scripts/probe_ensemble.py"


rule compare_probes:
    """Probe scores per ensemble against their baselines, spread and agreement across seeds,
    and text-vs-DNA contrasts, with intervals."""
    input:
        predictions=[
            expand(
                rules.probe_ensemble.output.predictions,
                **ensemble.members[0].wildcards,
            )[0]
            for ensemble in PROBED_ENSEMBLES
        ],
    output:
        members=results_path("tables/probes_members.csv"),
        summary=report(
            results_path("tables/probes_summary.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        contrasts=report(
            results_path("tables/probes_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        latex=results_path("tables/probes_summary.tex"),
    log:
        log_path("compare_probes.log"),
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=[ensemble.spec() for ensemble in PROBED_ENSEMBLES],
        comparison=comparison("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_probes.py"
