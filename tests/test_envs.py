"""Conda env files stay pinned and consistent with requirements.txt, and every rule's conda:
points at one of them."""

import re

import yaml

from conftest import REPO, rule_definitions


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
    envs = {name: env for name, env, _ in rules_with_env_and_script()}
    assert envs["data_entropy"] == "data.yaml"
    torch_rules = ("train_member", "eval_positions", "extract_member", "extract_member_corrected",
                   "extract_contextual", "extract_contextual_single", "probe_ensemble", "fetch_member")
    assert {envs[name] for name in torch_rules} == {"torch.yaml"}
    assert {name for name, env in envs.items() if env == "torch.yaml"} == set(torch_rules)


# Import name of each pinned distribution that an env may or may not hold.
MODULE_OF = {
    "torch": "torch", "transformers": "transformers", "tokenizers": "tokenizers", "safetensors": "safetensors",
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "matplotlib": "matplotlib", "seaborn": "seaborn",
    "pyfaidx": "pyfaidx", "pyarrow": "pyarrow", "pyyaml": "yaml", "tqdm": "tqdm", "jsonschema": "jsonschema",
    "scikit-learn": "sklearn", "huggingface-hub": "huggingface_hub",
}

# Run with `python -c`: the first argument lists the top-level modules to refuse.
BLOCK_IMPORTS = """
import importlib.abc, sys
blocked = set(sys.argv.pop(1).split(","))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in the env that runs this")

sys.meta_path.insert(0, Blocker())
"""
# Then the module-level imports of each script named by the remaining arguments (one process
# per env: starting Python and importing torch is most of the time); each script that fails is
# named with its error.
IMPORT_SCRIPTS = BLOCK_IMPORTS + """
import ast
failures = []
for script in sys.argv[1:]:
    tree = ast.parse(open(script).read())
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    try:
        exec(compile(ast.Module(body=imports, type_ignores=[]), script, "exec"), {})
    except Exception as error:
        failures.append(f"{script}: {type(error).__name__}: {error}")
if failures:
    sys.exit("\\n".join(failures))
"""
# Or Snakemake, with the remaining arguments.
RUN_SNAKEMAKE = BLOCK_IMPORTS + """
from snakemake.cli import main
sys.argv = ["snakemake", *sys.argv[1:]]
main()
"""


def rules_with_env_and_script():
    """(rule, env file name, script path) of every rule that runs a script."""
    for smk, name, body in rule_definitions():
        env = re.search(r'conda:\s*\n\s*"[^"]*envs/([\w.]+)"', body)
        script = re.search(r'script:\s*\n\s*"([^"]+)"', body)
        if script:
            yield name, env.group(1), (smk.parent / script.group(1)).resolve()


def test_every_script_imports_only_what_its_env_has():
    """Each script's imports (and what they import) resolve with the packages its rule's env
    lacks blocked, so `--sdm conda` runs every job."""
    import subprocess
    import sys

    scripts_of_env, checked = {}, set()
    for rule, env, script in rules_with_env_and_script():
        scripts_of_env.setdefault(env, set()).add(str(script))
        checked.add(rule)
    for env, scripts in scripts_of_env.items():
        spec = yaml.safe_load((REPO / "envs" / env).read_text())
        pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        present = {MODULE_OF[name] for name in pins(pip_section)}
        blocked = set(MODULE_OF.values()) - present
        result = subprocess.run(
            [sys.executable, "-c", IMPORT_SCRIPTS, ",".join(sorted(blocked)), *sorted(scripts)],
            capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "workflow" / "scripts")},
        )
        assert result.returncode == 0, f"{env}: {result.stderr.strip()}"
    assert {"compare_outputs", "figure_{figure.name}", "data_entropy", "train_member", "fetch_corpus"} <= checked


def test_reading_the_workflow_imports_no_model_or_data_library():
    """Snakemake parses the Snakefile and checks the config (every objective and
    architecture included) with only its own dependencies: a minimal Snakemake env works."""
    import subprocess
    import sys

    blocked = ["torch", "transformers", "tokenizers", "safetensors", "scipy", "matplotlib", "seaborn", "pyfaidx", "pyarrow",
               "sklearn"]
    for configfile in ("config/config.yaml", "config/paper.yaml"):
        result = subprocess.run(
            [sys.executable, "-c", RUN_SNAKEMAKE, ",".join(blocked), "-n", "--forceall", "--quiet", "rules",
             "--configfile", configfile],
            capture_output=True, text=True, cwd=REPO,
        )
        assert result.returncode == 0, f"{configfile}: {(result.stderr or result.stdout).strip()[-800:]}"


def test_the_conda_route_installs_requirements_txt():
    """README's conda route: environment.yaml is the venv's pins, through requirements.txt."""
    spec = yaml.safe_load((REPO / "environment.yaml").read_text())
    assert "python=3.11" in spec["dependencies"]
    pip_section = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-r requirements.txt"]
    readme = (REPO / "README.md").read_text()
    assert "conda env create -f environment.yaml" in readme
    assert "pip install --no-deps -r requirements-corpora.txt" in readme
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
