"""Published ensembles (seqens.hub, seqens.published): tiny models in the published formats,
read from a local path and from a Hub cache in offline mode, become member folders whose
renumbered models predict exactly what the published ones predict."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from published_models import (
    COMMIT,
    TEXT,
    byte_bpe_tokenizer,
    gfms_text_tokenizer,
    hub_cache,
    nt_vocab_tokenizer,
    save_bert,
    save_causal,
    save_custom_code_bert,
    save_esm,
)
from conftest import copy_of_prepared, snakemake_cmd
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from seqens.config import Condition, ConfigError, Member, Study
from seqens.errors import InputError
from seqens.extraction import member_fisher
from seqens.hub import resolve
from seqens.member import load_member
from seqens.positions import EvalPositions
from seqens.published import ORDER_FILE, fetch_member, save_published_tokenizer
from seqens.tokenization import SequenceTokenizer

DNA = "ACGTACGTTTGACNACGTAACGTGGGCCCAAATTTGGGCCCATACGTAGCTAGCTAGGATCCA" * 4
FORMATS = {  # kind, objective, tokenizer, saver, sample
    "gfms_bert": ("text", "mlm", gfms_text_tokenizer, save_bert, TEXT[0]),
    "nt_esm": ("dna", "mlm", lambda: nt_vocab_tokenizer(Path(tempfile.mkdtemp())), save_esm, DNA),
    "causal": ("text", "clm", byte_bpe_tokenizer, save_causal, TEXT[1]),
}


@pytest.fixture
def offline(monkeypatch):
    """No network: huggingface_hub reads only its cache."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def published(tmp_path, fmt: str, way: str, seed: int = 0):
    """(model as the config gives it, revision, cache dir, published directory) of a tiny
    model of ``fmt``, saved locally or laid out in a Hub cache."""
    kind, objective, make_tokenizer, save, _ = FORMATS[fmt]
    directory = save(tmp_path / f"{fmt}-{seed}", make_tokenizer(), seed=seed)
    cache = tmp_path / "hub"
    if way == "local":
        return str(directory), None, cache, directory
    hub_cache(cache, f"org/{fmt}-{seed}", directory)
    return f"org/{fmt}-{seed}", "main", cache, directory


def fetched(tmp_path, fmt: str, way: str):
    """The condition tokenizer and the member folder of a published model of ``fmt``."""
    kind, objective, *_ = FORMATS[fmt]
    model, revision, cache, directory = published(tmp_path, fmt, way)
    spec = {"type": "pretrained", "model": model, **({"revision": revision} if revision else {})}
    save_published_tokenizer(spec, kind, tmp_path / "tokenizer", cache, 128, what="tokenizers.t")
    entry = {"model": model, **({"revision": revision} if revision else {})}
    fetch_member(entry, 1, objective, "published", tmp_path / "member", tmp_path / "tokenizer", cache, what="published.p", key="published.p")
    return directory, tmp_path / "tokenizer", tmp_path / "member"


@pytest.mark.parametrize("way", ["local", "hub"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_published_member_predicts_what_the_published_model_predicts(tmp_path, offline, fmt, way):
    """Renumbered to the pipeline's special ids, the member tokenizes the held-out text as the
    published tokenizer does and gives the published model's logits, token for token."""
    kind, objective, _, _, sample = FORMATS[fmt]
    directory, tokenizer_dir, member_dir = fetched(tmp_path, fmt, way)
    order = json.loads((tokenizer_dir / ORDER_FILE).read_text())
    ids = SequenceTokenizer(tokenizer_dir).encode_texts([sample])[0]
    from transformers import AutoTokenizer

    assert [order[i] for i in ids] == AutoTokenizer.from_pretrained(directory)(sample, add_special_tokens=False)["input_ids"]
    loaded = load_member(Member(Condition("c", "t", kind), "published", objective, 1), member_dir, tokenizer_dir)
    input_ids = torch.tensor([[2, *ids[:24], 3]])  # [CLS] ... [SEP] in the pipeline's ids
    positions = torch.zeros_like(input_ids, dtype=torch.bool)
    positions[0, [4, 9, 15]] = True
    ours = loaded.objective.logits_at(loaded.model, input_ids, positions).detach()
    auto = AutoModelForCausalLM if objective == "clm" else AutoModelForMaskedLM
    theirs_model = auto.from_pretrained(directory).eval()
    theirs_ids = torch.tensor([[order[i] for i in input_ids[0].tolist()]])
    if objective == "mlm":
        theirs_ids[positions] = order[4]
        theirs = theirs_model(input_ids=theirs_ids).logits[positions]
    else:  # position i is predicted from the tokens before it
        theirs = theirs_model(input_ids=theirs_ids).logits[0, :-1][positions[0, 1:]]
    np.testing.assert_allclose(ours.numpy(), theirs.detach()[:, order].numpy(), atol=1e-5)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_published_format_has_a_fisher_by_layer_group(tmp_path, fmt):
    """BERT, ESM and a Llama-style causal LM (the generic layer rule) each give the Fisher in
    the groups embeddings, layer.0, layer.1, head, fractions summing to 1."""
    kind, objective, _, _, sample = FORMATS[fmt]
    _, tokenizer_dir, member_dir = fetched(tmp_path, fmt, "local")
    loaded = load_member(Member(Condition("c", "t", kind), "published", objective, 1), member_dir, tokenizer_dir)
    ids = SequenceTokenizer(tokenizer_dir).encode_texts([sample, sample[::-1]])
    length = min(map(len, ids)) - 1
    input_ids = np.array([[2, *row[:length]] for row in ids])
    positions = np.zeros_like(input_ids, dtype=bool)
    positions[:, [3, 6]] = True
    eval_positions = EvalPositions(input_ids, positions, np.arange(2), "")
    result = member_fisher(loaded.objective, loaded.model, eval_positions, n_sequences=2, method="per_sample",
                           chunk_size=2, device=torch.device("cpu"))
    assert result.groups == ["embeddings", "layer.0", "layer.1", "head"]
    assert result.fractions().sum() == pytest.approx(1.0) and (result.totals() > 0).all()


def test_the_manifest_records_the_resolved_commit_and_every_source_file(tmp_path, offline):
    _, _, member_dir = fetched(tmp_path, "gfms_bert", "hub")
    record = json.loads((member_dir / "manifest.json").read_text())
    assert record["published"]["commit"] == COMMIT and record["member"]["source"] == "published"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(record["published"]["files"])
    assert record["member"]["model_type"] == "bert" and set(record["weights"]) == {"model.safetensors"}


def test_the_gfms_tokenizer_moves_only_its_specials(tmp_path):
    """GFMs' BPE has <UNK> 0, <PAD> 1: renumbered, <PAD> 0 and <UNK> 1, the rest in place."""
    directory = save_bert(tmp_path / "m", gfms_text_tokenizer())
    save_published_tokenizer({"type": "pretrained", "model": str(directory)}, "text", tmp_path / "t", tmp_path, 64, what="t")
    order = json.loads((tmp_path / "t" / ORDER_FILE).read_text())
    assert order[:5] == [1, 0, 2, 3, 4] and order[5:] == list(range(5, len(order)))


@pytest.mark.parametrize("fmt, framed", [("gfms_bert", (False, False)), ("nt_esm", (True, True)), ("causal", (False, False))])
def test_rows_are_framed_as_the_published_tokenizer_frames_a_sequence(tmp_path, fmt, framed):
    """GFMs' BPE (no post-processor) gives rows without <CLS> and <SEP>, as its released models
    read them; the NT stand-in's EsmTokenizer gives <cls> ... <eos>: a row of one document, in
    published ids, is what the published tokenizer makes of it (truncated as the paper's
    ``tokenizer(..., truncation=True, max_length=...)``), and the renumbered tokenizer frames alike."""
    from transformers import AutoTokenizer

    from seqens.packing import load_tokens, pack_sequences

    kind, _, make_tokenizer, save, sample = FORMATS[fmt]
    directory = save(tmp_path / "m", make_tokenizer())
    save_published_tokenizer({"type": "pretrained", "model": str(directory)}, kind, tmp_path / "t", tmp_path, 64, what="t")
    tokenizer, order = SequenceTokenizer(tmp_path / "t"), json.loads((tmp_path / "t" / ORDER_FILE).read_text())
    assert (tokenizer.layout.starts_with_cls, tokenizer.layout.ends_with_sep) == framed
    pack_sequences([sample], tokenizer, tmp_path / "rows.npy", n_sequences=1, length=12, what="t", sampling="one_per_document")
    row = load_tokens(tmp_path / "rows.npy")[0].tolist()
    published_tokenizer = AutoTokenizer.from_pretrained(directory)
    assert [order[i] for i in row] == published_tokenizer(sample, truncation=True, max_length=12)["input_ids"]
    ids = tokenizer.encode_texts([sample])[0]
    assert AutoTokenizer.from_pretrained(tmp_path / "t")(sample)["input_ids"] == (
        [2] * framed[0] + ids + [3] * framed[1]
    )


def test_dna_is_upper_cased_before_a_published_tokenizer_reads_it(tmp_path):
    directory = save_esm(tmp_path / "m", nt_vocab_tokenizer(tmp_path / "vocab"))
    save_published_tokenizer({"type": "pretrained", "model": str(directory)}, "dna", tmp_path / "t", tmp_path, 64, what="t")
    tokenizer = SequenceTokenizer(tmp_path / "t")
    assert tokenizer.encode_texts([DNA.lower()]) == tokenizer.encode_texts([DNA])


# --- bad input: one line each, naming the member and the way out ---------------------------


def test_an_unknown_id_without_network_names_the_member_and_the_offline_cache(tmp_path, offline):
    with pytest.raises(InputError, match=r"published.x: Hub model 'org/absent' at revision 'main' is not in the cache .*"
                                         r"HF_HUB_OFFLINE=1") as error:
        resolve("org/absent", "main", tmp_path / "hub", "published.x")
    assert "\n" not in str(error.value) and "local directory" in str(error.value)


def test_a_revision_missing_from_the_cache_is_refused_offline(tmp_path, offline):
    published(tmp_path, "gfms_bert", "hub")
    with pytest.raises(InputError, match="revision 'v2' is not in the cache"):
        resolve("org/gfms_bert-0", "v2", tmp_path / "hub", "published.x")


def test_a_revision_the_hub_does_not_know_is_refused(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import RevisionNotFoundError

    def refuse(*args, **kwargs):
        error = RevisionNotFoundError.__new__(RevisionNotFoundError)  # as the Hub's 404 for a revision
        Exception.__init__(error, "404 Client Error: Revision Not Found")
        raise error

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(InputError, match=r"published.x: revision 'nope' of Hub model 'org/m' does not resolve; pin"):
        resolve("org/m", "nope", tmp_path, "published.x")


def test_members_with_different_tokenizers_are_refused(tmp_path):
    _, tokenizer_dir, _ = fetched(tmp_path, "gfms_bert", "local")
    other = save_bert(tmp_path / "other", gfms_text_tokenizer(vocab_size=70))
    with pytest.raises(InputError, match="published.p: its tokenizer differs from its ensemble's"):
        fetch_member({"model": str(other)}, 2, "mlm", "published", tmp_path / "m2", tokenizer_dir, tmp_path, what="published.p", key="published.p")


def test_an_mlm_tokenizer_without_a_mask_token_is_refused(tmp_path):
    directory = save_causal(tmp_path / "m", byte_bpe_tokenizer(mask=False))
    with pytest.raises(InputError, match="tokenizers.t: its tokenizer has no mask token"):
        save_published_tokenizer({"type": "pretrained", "model": str(directory)}, "text", tmp_path / "t", tmp_path, 64, what="tokenizers.t")


def test_a_checkpoint_without_its_head_is_refused(tmp_path):
    tokenizer = gfms_text_tokenizer()
    save_bert(tmp_path / "full", tokenizer)
    bare = save_bert(tmp_path / "bare", tokenizer, bare=True)
    save_published_tokenizer({"type": "pretrained", "model": str(tmp_path / "full")}, "text", tmp_path / "t", tmp_path, 64, what="t")
    with pytest.raises(InputError, match=r"published.p: the checkpoint has no prediction head for objective mlm .*BertModel"):
        fetch_member({"model": str(bare)}, 1, "mlm", "published", tmp_path / "m", tmp_path / "t", tmp_path, what="published.p", key="published.p")


def test_custom_code_is_refused_unless_the_entry_trusts_it(tmp_path):
    directory = save_bert(tmp_path / "m", gfms_text_tokenizer())
    config = json.loads((directory / "config.json").read_text())
    config.update(model_type="custom_bert", auto_map={"AutoConfig": "modeling.CustomConfig",
                                                       "AutoModelForMaskedLM": "modeling.CustomModel"})
    (directory / "config.json").write_text(json.dumps(config))
    save_published_tokenizer({"type": "pretrained", "model": str(directory)}, "text", tmp_path / "t", tmp_path, 64, what="t")
    with pytest.raises(InputError, match="published.p: the model runs custom code .*set published.p.trust_remote_code: true"):
        fetch_member({"model": str(directory)}, 1, "mlm", "published", tmp_path / "out", tmp_path / "t", tmp_path, what="published.p", key="published.p")


def test_a_member_with_its_own_code_runs_it_at_fetching_and_extraction_only_when_its_entry_trusts_it(tmp_path):
    """A model that calls itself bert but maps its Auto classes to its own code (DNABERT-2's
    layout): without trust_remote_code it is refused in one line naming the key, at fetching
    and, should its member folder's entry say so, at extraction; with it, both load its class."""
    directory = save_custom_code_bert(tmp_path / "m", gfms_text_tokenizer())
    save_published_tokenizer({"type": "pretrained", "model": str(directory)}, "text", tmp_path / "t", tmp_path, 64, what="t")
    fetch = lambda entry, out: fetch_member(entry, 1, "mlm", "published", out, tmp_path / "t", tmp_path,  # noqa: E731
                                            what="published.p, member of seed 1", key="published.p")
    refusal = "runs custom code from its repository; set published.p.trust_remote_code: true if you trust it"
    with pytest.raises(InputError, match=f"^published.p, member of seed 1: the model {refusal}$"):
        fetch({"model": str(directory)}, tmp_path / "untrusted")
    fetch({"model": str(directory), "trust_remote_code": True}, tmp_path / "member")
    member = Member(Condition("c", "t", "text"), "published", "mlm", 1)
    loaded = load_member(member, tmp_path / "member", tmp_path / "t")
    assert type(loaded.model).__name__ == "ShiftedBertForMaskedLM"
    manifest_path = tmp_path / "member" / "manifest.json"
    record = json.loads(manifest_path.read_text())
    record["config"]["published"]["trust_remote_code"] = False
    manifest_path.write_text(json.dumps(record))
    with pytest.raises(InputError, match=f"^member {member.path}: its model {refusal}$"):
        load_member(member, tmp_path / "member", tmp_path / "t")


# --- the config -----------------------------------------------------------------------------


def study_with(published_section: dict, **overrides) -> Study:
    config = {
        "study": "s",
        "corpora": {"wiki": {"kind": "text", "source": {"path": "x.txt"}, "format": "text"}},
        "tokenizers": {"bpe": {"type": "bpe", "vocab_size": 2048}},
        "conditions": [{"corpus": "wiki", "tokenizer": "bpe"}],
        "data": {"sequence_length": 32, "train_sequences": 64, "eval_sequences": 64},
        "seeds": [1, 2],
        "model": "tiny",
        "presets": {"tiny": {"layers": 1, "hidden": 8, "heads": 2, "ffn": 16, "max_positions": 64}},
        "published": published_section,
        **overrides,
    }
    return Study(config)


def test_a_published_ensemble_beside_a_trained_one_in_its_own_condition():
    study = study_with({"gfms": {"model": "mrochk/bert-90M-text-bpe-{seed}", "revision": "main", "corpus": "wiki",
                                 "objective": "mlm"}})
    trained, published_ = study.ensembles
    assert (trained.source, published_.source) == ("trained", "published")
    assert published_.condition.name == "wiki-gfms" and [c.name for c in study.conditions] == ["wiki-bpe", "wiki-gfms"]
    assert published_.labels()["architecture"] == "published" and published_.labels()["source"] == "published"
    assert study.config["tokenizers"]["gfms"] == {"type": "pretrained", "model": "mrochk/bert-90M-text-bpe-1",
                                                  "revision": "main", "trust_remote_code": False}


@pytest.mark.parametrize(
    "entry, overrides, message",
    [
        ({"model": "org/m-{seed}", "corpus": "wiki", "objective": "mlm"}, {},
         "config: published.p.revision: a Hub model needs a revision"),
        ({"model": "org/m-{seed}", "revision": "main", "corpus": "nope", "objective": "mlm"}, {},
         "config: published.p.corpus: unknown corpus 'nope'"),
        ({"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mlm", "architecture": "bert"}, {},
         "config: published.p.architecture: 'bert' names a trained architecture"),
        ({"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mlm", "tokenizer": "bpe"}, {},
         "config: published.p.tokenizer: 'bpe' must be a tokenizers entry of type pretrained"),
        ({"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mae"}, {},
         "config: published.p.objective"),
        ({"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mlm"},
         {"tokenizers": {"p": {"type": "bpe", "vocab_size": 2048}, "bpe": {"type": "bpe", "vocab_size": 2048}}},
         "config: published.p.tokenizer: a tokenizer is already called 'p'"),
    ],
)
def test_a_bad_published_entry_is_one_line_naming_its_key(entry, overrides, message):
    with pytest.raises(ConfigError) as error:
        study_with({"p": entry}, **overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_single_published_model_and_a_single_seed_are_ensembles_of_one_member():
    """A model without {seed} is one member (seed 0), whatever the study's seeds; a study of one
    seed trains ensembles of one member: the same rule, pair metrics absent."""
    study = study_with({"nt": {"model": "org/one-model", "revision": "main", "corpus": "wiki", "objective": "mlm",
                               "architecture": "single"}}, seeds=[1])
    trained, single = study.ensembles
    assert trained.seeds == (1,) and single.seeds == (0,) and single.members[0].path == "wiki/nt/single/mlm/seed0"
    assert study.single_model_labels == ["single"] and study.description()["single_models"] == ["wiki-nt (single)"]
    assert study.config["tokenizers"]["nt"]["model"] == "org/one-model"


def test_one_label_for_a_single_model_and_an_ensemble_of_several_is_refused():
    with pytest.raises(ConfigError) as error:
        study_with({"many": {"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mlm"},
                    "one": {"model": "org/one", "revision": "main", "corpus": "wiki", "objective": "mlm"}})
    assert str(error.value) == (
        "config: published.one.architecture: 'published' also labels published.many, an ensemble of several members; "
        "give single models and ensembles of several members labels of their own"
    )


def test_a_study_with_nothing_to_measure_is_refused():
    with pytest.raises(ConfigError, match="config: conditions: empty and no published ensembles"):
        study_with({}, conditions=[])


def test_two_published_ensembles_in_one_folder_are_refused():
    entry = {"model": "org/m-{seed}", "revision": "main", "corpus": "wiki", "objective": "mlm", "tokenizer": "shared"}
    with pytest.raises(ConfigError, match="config: published.b: same corpus, tokenizer, architecture label and objective"):
        study_with({"a": entry, "b": {**entry, "model": "org/n-{seed}"}},
                   tokenizers={"bpe": {"type": "bpe", "vocab_size": 2048},
                               "shared": {"type": "pretrained", "model": "org/m-1", "revision": "main"}})



# --- end to end ------------------------------------------------------------------------------

PUBLISHED_AND_TRAINED = """
tokenizers:
  gfms: {{type: pretrained, model: {models}/m-1}}
conditions:
  - {{corpus: wiki, tokenizer: gfms}}
published:
  released:
    model: "{models}/m-{{seed}}"
    corpus: wiki
    tokenizer: gfms
    objective: mlm
    architecture: released
  one:
    model: "{models}/m-1"
    corpus: wiki
    tokenizer: gfms
    objective: mlm
    architecture: single
seeds: [1, 2]
architectures: [bert]
objectives: [mlm]
training: {{steps: 40, eval_every: 20, checkpoint_every: 20}}
data: {{sequence_length: 64, train_sequences: 512, eval_sequences: 64}}
extraction: {{fisher_sequences: 16, markov_max_order: 2}}
comparison: {{bootstrap_draws: 100}}
"""


def gfms_tokenizer_of(train_split: Path, vocab_size: int = 1100):
    """A GFMs-style text BPE (published_models.gfms_text_tokenizer's recipe) trained on the
    first 2,000 documents of a prepared training split."""
    import itertools

    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    specials = ["<UNK>", "<PAD>", "<CLS>", "<SEP>", "<MASK>"]
    tokenizer = Tokenizer(BPE(unk_token="<UNK>"))
    tokenizer.pre_tokenizer = Whitespace()
    with open(train_split) as lines:
        tokenizer.train_from_iterator(list(itertools.islice(lines, 2000)),
                                      trainer=BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<UNK>", pad_token="<PAD>", cls_token="<CLS>",
                                   sep_token="<SEP>", mask_token="<MASK>")


def test_a_published_and_a_trained_ensemble_end_to_end_with_a_source_facet(prepared_demo, tmp_path):
    """Two local BERT members with a GFMs-style tokenizer, and one of them alone as a single
    model, beside an ensemble trained here with that tokenizer, on the demo's Wikipedia text:
    every table that names ensembles has the source facet; the single model has member rows
    and no pair rows; the trained ensemble is contrasted with the published one in every
    measurement, and the landing page says whether they are distinguishable."""
    work = copy_of_prepared(prepared_demo, tmp_path)
    tokenizer = gfms_tokenizer_of(work / "results" / "corpora" / "wiki" / "train.txt")
    for seed in (1, 2):
        save_bert(tmp_path / "models" / f"m-{seed}", tokenizer, seed=seed)
    (work / "small.yaml").write_text(PUBLISHED_AND_TRAINED.format(models=tmp_path / "models"))
    snakemake_cmd("--cores", "2", "--configfile", "config/config.yaml", "small.yaml", cwd=work, timeout=1800)
    tables = work / "results" / "tables"
    for path in sorted(tables.glob("*.csv")):
        table = pd.read_csv(path)
        if "architecture" in table.columns:
            assert "source" in table.columns, path.name
    ensembles = {("bert", "trained"), ("released", "published")}
    for name in ("outputs_members", "outputs_summary", "js_distance", "embeddings_summary", "contextual_summary",
                 "fisher_summary"):
        table = pd.read_csv(tables / f"{name}.csv")
        single = set() if name in ("js_distance", "embeddings_summary") else {("single", "published")}  # no pairs
        assert set(zip(table["architecture"], table["source"])) == ensembles | single, name
    for name, metrics in (("outputs", {"bits_beyond_unigram", "entropy_bits", "js_distance"}),
                          ("embeddings", {"topk_overlap@10", "procrustes_disparity"}),
                          ("contextual", {"linear_cka", "effective_rank"}), ("fisher", {"fisher_fraction:embeddings"})):
        reproduction = pd.read_csv(tables / f"{name}_reproduction.csv")
        assert metrics <= set(reproduction["metric"]), name
        assert set(reproduction["published_architecture"]) == {"released"} and reproduction["distinguishable"].dtype == bool
    overview = (work / "results" / "report" / "overview.rst").read_text()
    assert "bert (trained) − released (published), wiki-gfms mlm: distinguishable in" in overview
    assert "Single published models: wiki-gfms (single)" in overview
    manifest = json.loads((work / "results/models/wiki/gfms/released/mlm/seed2/manifest.json").read_text())
    assert manifest["member"]["source"] == "published" and manifest["published"]["model"].endswith("m-2")
    assert set(pd.read_csv(tables / "training_log.csv")["source"]) == {"trained"}
