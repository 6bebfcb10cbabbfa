# data: Debian text packages for the corpus builder, and the hashing benchmark.
# Owner: data helper (hf/modelhash, data/, commands/{hash,data}.go).

DATA_PKGS := jargon-text dict-devil bible-kjv bible-kjv-text
DATA_STAMP := $(BUILD)/setup-data.stamp
DATA_BENCH_MB ?= 1024

.PHONY: setup-data bench-data

TEST_SETUP += setup-data
# DATA_BIN is the coldint binary bench-data times (built by `make build`).
DATA_BIN ?= bin/coldint

setup-data: $(DATA_STAMP) ## install the Debian text packages of the corpus builder

$(DATA_STAMP): mk/data.mk
	@mkdir -p $(BUILD)
	@if ! dpkg-query -W -f='$${Status}\n' $(DATA_PKGS) 2>/dev/null | grep -vq 'install ok installed' \
	    && [ "$$(dpkg-query -W -f='$${Status}\n' $(DATA_PKGS) 2>/dev/null | wc -l)" = "$(words $(DATA_PKGS))" ]; then \
	  echo "setup-data: $(DATA_PKGS) already installed"; \
	else \
	  echo "setup-data: installing $(DATA_PKGS)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $(DATA_PKGS); \
	fi
	@test -s /usr/share/doc/jargon-text/jargon.txt.gz && test -s /usr/share/dictd/devil.dict.dz \
	  && test -x /usr/bin/bible && test -s /usr/lib/bible.data
	@touch $@

BENCH += bench-data

# bench-data: hashing GB/s of `coldint hash --all` (all cores across files) vs
# `sha256sum` (one file after another) on the same ~1 GB of files: a model-like
# folder of 4 shards, a tokenizer and small JSON files, in the page cache. It
# prints wall-clock GB/s, GB per CPU-second (user+sys, less sensitive to a busy
# machine) and the ratios coldint / sha256sum.
bench-data: ## hashing GB/s: coldint hash vs sha256sum on ~1 GB of files
	@test -x $(DATA_BIN) || $(MAKE) --no-print-directory build
	@set -euo pipefail; \
	dir=$$(mktemp -d "$${TMPDIR:-/tmp}/coldint-bench-data.XXXXXX"); \
	trap 'rm -rf "$$dir"' EXIT; \
	shard=$$(( $(DATA_BENCH_MB) / 4 )); \
	for i in 1 2 3 4; do head -c $$(( shard * 1048576 )) /dev/urandom > "$$dir/model-0000$$i-of-00004.safetensors"; done; \
	head -c 3000000 /dev/urandom | base64 > "$$dir/tokenizer.json"; \
	echo '{"model_type":"llama"}' > "$$dir/config.json"; \
	echo '{"weight_map":{"a":"model-00001-of-00004.safetensors"}}' > "$$dir/model.safetensors.index.json"; \
	bytes=$$(cat "$$dir"/* | wc -c); \
	TIMEFORMAT='%R %U %S'; \
	$(DATA_BIN) hash --all "$$dir" >/dev/null; \
	ct=$$( { time $(DATA_BIN) hash --all "$$dir" > "$$dir.hash"; } 2>&1 ); \
	st=$$( { time (cd "$$dir" && sha256sum * >/dev/null); } 2>&1 ); \
	h=$$(cat "$$dir.hash"); rm -f "$$dir.hash"; \
	echo "$$ct $$st" | awk -v b=$$bytes -v n=$$(nproc) -v h="$$h" '{ \
	  cg = b / $$1 / 1e9; cc = b / ($$2 + $$3) / 1e9; sg = b / $$4 / 1e9; sc = b / ($$5 + $$6) / 1e9; \
	  printf "bench-data: %.2f GB in 7 files, %d cores, load %s\n", b / 1e9, n, "'"$$(cut -d' ' -f1 /proc/loadavg)"'"; \
	  printf "bench-data: coldint hash  %6.2f s  %5.2f GB/s  %5.2f GB/CPU-s  (%s)\n", $$1, cg, cc, h; \
	  printf "bench-data: sha256sum     %6.2f s  %5.2f GB/s  %5.2f GB/CPU-s\n", $$4, sg, sc; \
	  printf "bench-data: ratio coldint/sha256sum = %.2fx wall, %.2fx per CPU-second\n", cg / sg, cc / sc }'
