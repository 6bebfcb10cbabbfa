# Parquet: an independent writer for package data's parity tests (owner: parquet helper;
# data/parquet*.go, data/stream*.go, tools/parquetjs).
#
# setup-parquet installs npm parquet-wasm (the Rust arrow/parquet crates compiled to
# WebAssembly) and apache-arrow, versions pinned in tools/parquetjs/package-lock.json,
# into .build/npm/parquet/node_modules. data's parity tests run tools/parquetjs/write.mjs
# with it to write snappy and zstd shards at test time (testenv.NodeModules(t, "parquet")).

PARQUET_NPM := $(BUILD)/npm/parquet

.PHONY: setup-parquet
TEST_SETUP += setup-parquet

setup-parquet: $(PARQUET_NPM)/.stamp ## install the independent parquet writer (npm parquet-wasm, pinned)

$(PARQUET_NPM)/.stamp: tools/parquetjs/package.json tools/parquetjs/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-cache show nodejs >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm; }
	mkdir -p $(PARQUET_NPM)
	cp tools/parquetjs/package.json tools/parquetjs/package-lock.json $(PARQUET_NPM)/
	cd $(PARQUET_NPM) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $(PARQUET_NPM)/node_modules/parquet-wasm/node/parquet_wasm_bg.wasm
	touch $@
