# autodist front door. `make deps` once on a fresh Debian machine, then `make test`, `make run` or `make chat`.
BUILD ?= build
JOBS ?= $(shell nproc)
# The CUDA backend is compiled wherever nvcc is, on PATH or in the toolkit's usual prefix (CI has no GPU
# but builds it so it cannot rot; GPU tests then show as skipped).
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CMAKE_FLAGS ?= $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC))
BIN := $(BUILD)/autodist
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1

.PHONY: all deps build test run chat bench bundle bundle-lean report fuzz fuzz-ci clean

all: build

deps:
	scripts/install_deps.sh
	scripts/fetch_tokenizers.sh

# Configured once with Ninja; a build folder made by a plain `cmake -S . -B build` (Unix Makefiles, as CI does
# first) is reused as it is.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# The demo (scripts/demo.sh, ~10 s on 2 cores): a tiny synthetic model with the real Qwen3 vocabulary, one prompt
# generated greedily on 1 rank, tp 2, pp 2 and SP+PP (pairwise, ring) into one trace; checks that every layout gives
# the same tokens and renders notebooks_out/demo/index.html.
run: build
	scripts/demo.sh $(BIN) $(BUILD)/demo notebooks_out/demo

# Single-rank chat on the same tiny model: random weights, so random multilingual text.
chat: build
	$(BIN) synth --preset tiny --out $(BUILD)/models/tiny --seed 1
	$(BIN) generate --model $(BUILD)/models/tiny --tokenizer data/tokenizers/qwen3 --chat \
	  --prompt "Explain tensor parallelism in one sentence." --max-output-length 24 --temperature 0.7 \
	  --output-dir $(BUILD)/run

bench: build
	$(BIN) synth --preset qwen3-0.6b --out $(BUILD)/models/qwen3-0.6b --seed 1 --dtype bf16
	$(BIN) bench --model $(BUILD)/models/qwen3-0.6b --prompt-len 128 --output-len 16

# A relocatable tarball (scripts/bundle.sh): $(BUILD)/bundle.tgz with the binaries, the libraries a target may lack
# (found through $$ORIGIN rpaths), Open MPI's runtime, the fixtures and a tiny model; bundle-lean without the models
# (what scripts/gpu_check.sh is carried with to a lent GPU).
bundle: build
	scripts/bundle.sh $(BUILD)

bundle-lean: build
	scripts/bundle.sh --lean $(BUILD)

# Renders DIR/trace.h5 into notebooks_out/<name of DIR>/ (index.html + PNGs). REPORT_OUT overrides.
report:
	@test -n "$(DIR)" || { echo "usage: make report DIR=<folder with trace.h5> [REPORT_OUT=...]"; exit 2; }
	tests/sweep/py.sh experiments/report.py --trace $(DIR) $(if $(REPORT_OUT),--out $(REPORT_OUT))

# libFuzzer targets of the file parsers (tests/fuzz, clang + ASan + UBSan): each runs FUZZ_SECONDS on a copy of its
# seed corpus; any crash, sanitizer report, leak or hang fails and names the reproducer. fuzz-ci: 60 s each (CI).
FUZZ_SECONDS ?= 600
fuzz:
	JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-ci:
	JOBS=$(JOBS) scripts/fuzz.sh 60

clean:
	rm -rf $(BUILD) build-fuzz
