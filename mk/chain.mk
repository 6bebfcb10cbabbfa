# Chain: chopsticks (npm) runs the real subtensor runtime for the chain
# integration tests (chain/substrate). Installed from tools/chopsticks with the
# committed lock file into .build/npm/chain.

CHAIN_NPM := $(BUILD)/npm/chain
CHAIN_STAMP := $(BUILD)/stamps/chain-npm

.PHONY: setup-chain
setup-chain: $(CHAIN_STAMP) ## install chopsticks (npm) for the chain tests

$(CHAIN_STAMP): tools/chopsticks/package.json tools/chopsticks/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	mkdir -p $(CHAIN_NPM) $(dir $@)
	cp tools/chopsticks/package.json tools/chopsticks/package-lock.json $(CHAIN_NPM)/
	cd $(CHAIN_NPM) && npm ci --no-audit --no-fund --loglevel=error
	test -f $(CHAIN_NPM)/node_modules/@acala-network/chopsticks/chopsticks.cjs
	touch $@

TEST_SETUP += setup-chain
