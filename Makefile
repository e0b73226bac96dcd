# seqlab: `make train` runs the main job, `make test` runs the suite. Each sets itself up:
# the first call creates .venv and installs seqlab into it.
#
# TORCH_SPEC pins the CPU build of PyTorch that lies on this machine's disk; on a GPU box
# use e.g. `make TORCH_SPEC=torch train` to let pip choose a CUDA build.

VENV       ?= .venv
PYTHON     ?= python3
TORCH_SPEC ?= torch==2.13.0
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed

# The local TinyStories slice, when this checkout sits next to ../shared.
TINYSTORIES_LOCAL := $(abspath ../shared/data/tinystories)
ifneq ($(wildcard $(TINYSTORIES_LOCAL)/train.jsonl),)
export SEQLAB_TINYSTORIES ?= $(TINYSTORIES_LOCAL)
endif

ARGS ?=

.PHONY: install train test test-fast lint bench reproduce clean

install: $(STAMP) ## create .venv and install seqlab with its dev tools, sweep launcher and trackers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev,sweep,tracking]"
	touch $(STAMP)

train: $(STAMP) ## train the default GRU on TinyStories (extra overrides: make train ARGS="model.hidden_size=512")
	$(BIN)/seqlab train $(ARGS)

test: $(STAMP) ## the whole test suite
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

test-fast: $(STAMP) ## the suite without the slow end-to-end tests
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check seqlab tests benchmarks

# The seed homework's TinyStories experiments (conf/experiment/).
SEED_EXPERIMENTS := rnn_vs_gru_seq20 multilayer_rnn rnn_vs_gru_seq100 gru_vs_transformer transformer_1l

reproduce: $(STAMP) ## the seed's experiments, two runs side by side; writes the results table into README.md
	$(BIN)/seqlab reproduce $(SEED_EXPERIMENTS) --jobs 2 --readme README.md

bench: $(STAMP) ## engine overhead, model speed (fp32/bf16), attention kernels, KV cache, tracker overhead (prints numbers)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_attention.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_trackers.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
