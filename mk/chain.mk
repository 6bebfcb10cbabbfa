# Chain: chopsticks (npm) runs the real subtensor runtime for the chain
# integration tests (chain/substrate). Installed from tools/chopsticks with the
# committed lock file into .build/npm/chain.

CHAIN_NPM := $(BUILD)/npm/chain
CHAIN_STAMP := $(BUILD)/stamps/chain-npm

.PHONY: setup-chain
setup-chain: $(CHAIN_STAMP) ## install chopsticks (npm) for the chain tests

$(CHAIN_STAMP): tools/chopsticks/package.json tools/chopsticks/package-lock.json mk/chain.mk
	@command -v node >/dev/null && command -v npm >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends nodejs npm)
	@# chopsticks needs the sqlite3 addon; with no prebuilt download reachable it is
	@# compiled here. Linking Debian's libsqlite3 instead of compiling the bundled
	@# amalgamation (-O3, minutes on 2 cores) cuts that to the small binding.
	@dpkg-query -W -f='$${Status}\n' libsqlite3-dev 2>/dev/null | grep -q 'install ok installed' || \
		(apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libsqlite3-dev)
	mkdir -p $(CHAIN_NPM) $(dir $@)
	cp tools/chopsticks/package.json tools/chopsticks/package-lock.json $(CHAIN_NPM)/
	cd $(CHAIN_NPM) && npm ci --no-audit --no-fund --loglevel=error --sqlite=/usr
	test -f $(CHAIN_NPM)/node_modules/@acala-network/chopsticks/chopsticks.cjs
	touch $@

TEST_SETUP += setup-chain
