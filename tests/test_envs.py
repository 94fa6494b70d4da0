"""Conda env files stay pinned and consistent with requirements.txt, and every rule's conda:
points at one of them."""

import re

import yaml

from conftest import REPO


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and "==" in line:
            name, version = line.split("==")
            out[name.lower().replace("_", "-")] = version
    return out


REQUIREMENTS = pins((REPO / "requirements.txt").read_text().splitlines())


def test_every_env_pin_matches_requirements():
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert {e.name for e in envs} == {"data.yaml", "torch.yaml", "plot.yaml"}
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert all("==" in p for p in pip_section), f"{env.name}: unpinned {pip_section}"
        for name, version in pins(pip_section).items():
            assert REQUIREMENTS.get(name) == version, f"{env.name}: {name}=={version} vs requirements.txt"
        assert "python=3.11" in spec["dependencies"]


def test_rules_point_at_existing_envs():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().is_file(), f"{smk.name}: {env}"


def test_torch_rules_use_the_torch_env():
    """Training and model extraction run in the torch env; the data's own entropy (numpy and
    tokenizers only) in the data env."""
    text = (REPO / "workflow" / "rules" / "train.smk").read_text() + (REPO / "workflow" / "rules" / "extract.smk").read_text()
    envs = dict(re.findall(r'(?:^|\n)rule (\w+):.*?conda:\s*\n\s*"[^"]*envs/(\w+)\.yaml"', text, flags=re.S))
    assert envs.pop("data_entropy") == "data"
    assert {"train_member", "extract_outputs", "extract_fisher"} <= set(envs) and set(envs.values()) == {"torch"}, envs
