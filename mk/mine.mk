# Mining (train/, train/publish, model/train*.go, commands/mine.go): the
# training benchmark against the PyTorch reference. The reference
# (tools/torchref/train_ref.py) runs on Debian's python3-torch, installed by
# setup-engine; the e2e tests use the Debian corpus packages of setup-data.

MINE_BENCH_DIR := $(BUILD)/bench/mine

.PHONY: setup-mine bench-mine
TEST_SETUP += setup-mine
BENCH += bench-mine

setup-mine: setup-engine setup-data ## the miner's test dependencies (PyTorch reference, Debian corpus)

bench-mine: setup-engine ## training tokens/s of coldint vs PyTorch (~110M LLaMA, f32, AdamW, same batch/seq/threads)
	go build -o $(BUILD)/bin/minebench ./tools/minebench
	$(BUILD)/bin/minebench -threads $(OMP_NUM_THREADS) -dir $(MINE_BENCH_DIR)

.PHONY: bench-mine-ddp
BENCH += bench-mine-ddp

bench-mine-ddp: setup-engine ## data-parallel training: 2 ranks × 1 thread vs 1 process × 2 threads (tokens/s ratio, all-reduce share of the step)
	go build -o $(BUILD)/bin/minebench ./tools/minebench
	$(BUILD)/bin/minebench -ddp 2 -batch 1 -seq 256 -steps 3 -dir $(MINE_BENCH_DIR)
