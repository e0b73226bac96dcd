# seqlab: `make train` runs the main job, `make test` runs the suite. Each sets itself up:
# the first call creates .venv and installs what it needs there: `make train` seqlab and its
# core packages ($(VENV)/.installed); `make test` adds the extras the tests use (dev, sweep,
# cluster, bpe, tracking, search: $(VENV)/.installed-test). A user's extras stay opt-in:
# pip install 'seqlab[tracking]'.
#
# TORCH_SPEC pins the CPU build of PyTorch that lies on this machine's disk; on a GPU box
# use e.g. `make TORCH_SPEC=torch train` to let pip choose a CUDA build.

VENV       ?= .venv
PYTHON     ?= python3
TORCH_SPEC ?= torch==2.13.0
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
TEST_EXTRAS := dev,sweep,cluster,bpe,tracking,search

# The local TinyStories slice, when this checkout sits next to ../shared.
TINYSTORIES_LOCAL := $(abspath ../shared/data/tinystories)
ifneq ($(wildcard $(TINYSTORIES_LOCAL)/train.jsonl),)
export SEQLAB_TINYSTORIES ?= $(TINYSTORIES_LOCAL)
endif

ARGS ?=

# `make train model=lstm trainer.max_steps=500`: command-line variables named like a Hydra
# override (model, task, trainer.*, device, seed, threads, +experiment, hydra.*) go to seqlab;
# values with spaces go in ARGS="...".
HYDRA_ROOTS := model task trainer device seed threads hydra +experiment
FORWARDED   := $(strip $(foreach v,$(.VARIABLES),$(if $(and $(filter command line,$(origin $(v))),$(filter $(HYDRA_ROOTS),$(firstword $(subst ., ,$(v))))),$(v)=$($(v)))))

.PHONY: install train data-env test test-fast lint bench reproduce clean

install: $(STAMP) ## create .venv and install seqlab with what the main job needs (no trackers, no launchers)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

# What the tests need besides: pytest and ruff, the sweep and cluster launchers, tokenizers, trackers,
# the Optuna sweeper.
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[$(TEST_EXTRAS)]"
	touch $(TEST_STAMP)

train: $(STAMP) data-env ## train the default GRU on TinyStories (overrides: make train model=lstm, or ARGS="...")
	$(BIN)/seqlab train $(FORWARDED) $(ARGS)

# Record the data folder in the venv's activate script, so that after
# `source .venv/bin/activate` every README command finds the data in the same shell.
DATA_MARK := \# seqlab: TinyStories folder found by make
data-env: $(STAMP) ## write SEQLAB_TINYSTORIES into .venv/bin/activate (when make found the data)
ifneq ($(SEQLAB_TINYSTORIES),)
	@grep -v '$(DATA_MARK)' $(BIN)/activate > $(BIN)/activate.tmp; mv $(BIN)/activate.tmp $(BIN)/activate
	@echo 'export SEQLAB_TINYSTORIES="$(SEQLAB_TINYSTORIES)"  $(DATA_MARK)' >> $(BIN)/activate
endif

# The suite runs on TEST_WORKERS processes (pytest-xdist), one torch thread each; a test file's
# tests stay on one worker, the slowest files first (tests/conftest.py's SLOWEST_FIRST). The
# slowest tests are listed at the end of every run.
TEST_WORKERS ?= 2

test: $(TEST_STAMP) data-env ## the whole test suite
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-fast: $(TEST_STAMP) ## the suite without the slow end-to-end tests
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow"

lint: $(TEST_STAMP)
	$(BIN)/ruff check seqlab tests benchmarks

# The seed homework's TinyStories experiments (conf/experiment/).
SEED_EXPERIMENTS := rnn_vs_gru_seq20 multilayer_rnn rnn_vs_gru_seq100 gru_vs_transformer transformer_1l

reproduce: $(STAMP) ## the seed's experiments, two runs side by side; writes the results table into docs/results.md
	$(BIN)/seqlab reproduce $(SEED_EXPERIMENTS) --jobs 2 --readme docs/results.md

bench: $(TEST_STAMP) ## engine overhead, model speed (fp32/bf16), attention kernels, KV cache, tracker overhead (prints numbers)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_attention.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_trackers.py
	$(BIN)/python benchmarks/bench_ddp.py
	$(BIN)/python benchmarks/bench_prepare.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
