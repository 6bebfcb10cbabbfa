# Timelock: the independent oracles of chain/timelock's interop test. The
# reference `tle` implementation compiled to wasm (@ideallabs/timelock_wasm_wrapper)
# decrypts our ciphertexts and makes one for us to decrypt; tlock-js and
# drand-client hold drand quicknet's chain info and verify beacon signatures.
# Installed from tools/timelockjs with the committed lock file into
# .build/npm/timelock, where TestReferenceImplementation finds them.
# Owner: timelock helper (chain/timelock, tools/timelockjs).

TIMELOCK_NPM   := $(BUILD)/npm/timelock
TIMELOCK_STAMP := $(BUILD)/stamps/timelock-npm

.PHONY: setup-timelock
TEST_SETUP += setup-timelock

setup-timelock: $(TIMELOCK_STAMP) ## install the reference timelock wasm, tlock-js and drand-client (npm, locked)

$(TIMELOCK_STAMP): tools/timelockjs/package.json tools/timelockjs/package-lock.json mk/timelock.mk
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-cache show nodejs >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm; }
	mkdir -p $(TIMELOCK_NPM) $(dir $@)
	cp tools/timelockjs/package.json tools/timelockjs/package-lock.json $(TIMELOCK_NPM)/
	cd $(TIMELOCK_NPM) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $(TIMELOCK_NPM)/node_modules/@ideallabs/timelock_wasm_wrapper/timelock_wasm_wrapper_bg.wasm
	test -f $(TIMELOCK_NPM)/node_modules/tlock-js/drand/defaults.js
	touch $@
