# The libtorch engine (package model): its PyTorch reference (tools/torchref,
# Debian python3-torch, installed with libtorch by setup-torch) and its bench.

ENGINE_STAMP := $(BUILD)/stamps/engine-python
ENGINE_BENCH_DIR := $(BUILD)/bench/engine

.PHONY: setup-engine bench-engine
TEST_SETUP += setup-engine
BENCH += bench-engine

setup-engine: setup-torch $(ENGINE_STAMP) ## the engine's PyTorch reference (Debian python3-torch)

$(ENGINE_STAMP): mk/engine.mk
	@mkdir -p $(@D)
	@if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
		echo "engine: apt-get install python3-torch"; \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-torch; \
	fi
	/usr/bin/python3 -c 'import torch; print("engine: python3-torch", torch.__version__)'
	@touch $@

bench-engine: setup-engine ## eval tokens/s of coldint vs PyTorch eager on a ~110M LLaMA (seq 1024, f32 and bf16), GFLOP/s vs matmul peak
	go build -o $(BUILD)/bin/enginebench ./tools/enginebench
	$(BUILD)/bin/enginebench -threads $(OMP_NUM_THREADS) -dir $(ENGINE_BENCH_DIR)
