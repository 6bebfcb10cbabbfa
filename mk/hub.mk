# Hub: the official JS client for the interop test, and the loopback download benchmark.
# Owner: hub helper (hf/{hub,repo}.go, hf/hub, hf/dirhub, hf/hubserver, hf/hubtest,
# commands/hub.go, tools/hubjs).
#
# setup-hub installs @huggingface/hub (version pinned in tools/hubjs/package.json)
# into .build/npm/hub/node_modules, where hf/hubserver's TestOfficialJSClientRoundTrip
# finds it (testenv.NodeModules(t, "hub")).
# bench-hub times `coldint hub download` from `coldint hub serve` on 127.0.0.1
# against curl fetching the same files in parallel from the same server.

HUB_NPM      := $(BUILD)/npm/hub
HUB_BENCH_MB ?= 512
HUB_BIN      ?= bin/coldint

.PHONY: setup-hub bench-hub
TEST_SETUP += setup-hub
BENCH += bench-hub

setup-hub: $(HUB_NPM)/.stamp ## install the official @huggingface/hub JS client (npm, pinned)

$(HUB_NPM)/.stamp: tools/hubjs/package.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-cache show nodejs >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -qq; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm; }
	mkdir -p $(HUB_NPM)
	cp tools/hubjs/package.json $(HUB_NPM)/package.json
	cd $(HUB_NPM) && npm install --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $(HUB_NPM)/node_modules/@huggingface/hub/dist/index.mjs
	node -e 'const v=require("./$(HUB_NPM)/node_modules/@huggingface/hub/package.json").version; if (v !== require("./tools/hubjs/package.json").dependencies["@huggingface/hub"]) { console.error("setup-hub: got @huggingface/hub " + v); process.exit(1) }'
	touch $@

# bench-hub: HUB_BENCH_MB of random data in 4 LFS shards plus small files is uploaded
# to a fresh `coldint hub serve` on loopback, then downloaded twice by each client
# (first run warms the page cache and is not counted). coldint verifies every file's
# sha256 before moving it into the snapshot; curl only writes bytes.
bench-hub: ## download MB/s from `coldint hub serve` on loopback: coldint vs curl
	@test -x $(HUB_BIN) || $(MAKE) --no-print-directory build
	@command -v curl >/dev/null || { apt-cache show curl >/dev/null 2>&1 || apt-get update -qq; apt-get install -y -qq --no-install-recommends curl; }
	@set -euo pipefail; \
	work=$$(mktemp -d "$${TMPDIR:-/tmp}/coldint-bench-hub.XXXXXX"); \
	tok=hf_bench_$$RANDOM$$RANDOM; \
	$(HUB_BIN) --log-level warn hub serve --root "$$work/root" --addr 127.0.0.1:0 --token "$$tok" > "$$work/url" 2>"$$work/serve.log" & \
	spid=$$!; \
	trap 'kill $$spid 2>/dev/null; wait $$spid 2>/dev/null; rm -rf "$$work"' EXIT; \
	for i in $$(seq 1 100); do test -s "$$work/url" && break; sleep 0.1; done; \
	url=$$(cat "$$work/url"); test -n "$$url"; \
	mkdir -p "$$work/src"; shard=$$(( $(HUB_BENCH_MB) / 4 )); \
	for i in 1 2 3 4; do head -c $$(( shard * 1048576 )) /dev/urandom > "$$work/src/model-0000$$i-of-00004.safetensors"; done; \
	echo '{"model_type":"llama"}' > "$$work/src/config.json"; \
	head -c 2000000 /dev/urandom | base64 > "$$work/src/tokenizer.json"; \
	bytes=$$(cat "$$work/src"/* | wc -c); \
	now() { date +%s.%N; }; \
	t0=$$(now); commit=$$(HF_TOKEN=$$tok $(HUB_BIN) --log-level warn hub upload --endpoint "$$url" --create bench/model "$$work/src"); t1=$$(now); \
	dl() { rm -rf "$$work/cache"; HF_TOKEN=$$tok $(HUB_BIN) --log-level warn hub download --endpoint "$$url" --revision "$$commit" --cache-dir "$$work/cache" bench/model >/dev/null; }; \
	cu() { rm -rf "$$work/curl"; mkdir -p "$$work/curl"; args=(); \
	  for f in $$(cd "$$work/src" && ls); do args+=(-o "$$work/curl/$$f" "$$url/bench/model/resolve/$$commit/$$f"); done; \
	  curl -sfS --no-progress-meter -Z --parallel-max 4 -H "Authorization: Bearer $$tok" "$${args[@]}"; }; \
	dl; t2=$$(now); dl; t3=$$(now); \
	cu; t4=$$(now); cu; t5=$$(now); \
	cmp -s "$$work/src/model-00004-of-00004.safetensors" "$$work/cache/models--bench--model/snapshots/$$commit/model-00004-of-00004.safetensors"; \
	cmp -s "$$work/src/model-00004-of-00004.safetensors" "$$work/curl/model-00004-of-00004.safetensors"; \
	awk -v b=$$bytes -v u0=$$t0 -v u1=$$t1 -v a=$$t2 -v c=$$t3 -v d=$$t4 -v e=$$t5 -v n=$$(nproc) 'BEGIN { \
	  up = b / (u1 - u0) / 1e6; ct = c - a; kt = e - d; cm = b / ct / 1e6; km = b / kt / 1e6; \
	  printf "bench-hub: %.0f MB in 6 files, loopback, %d cores\n", b / 1e6, n; \
	  printf "bench-hub: coldint hub upload    %.3f s  %7.1f MB/s (hash, preupload, LFS multipart, commit)\n", u1 - u0, up; \
	  printf "bench-hub: coldint hub download  %.3f s  %7.1f MB/s (verified sha256, 4 parallel)\n", ct, cm; \
	  printf "bench-hub: curl -Z (4 parallel)  %.3f s  %7.1f MB/s (no verification)\n", kt, km; \
	  printf "bench-hub: ratio coldint/curl download = %.2fx\n", cm / km }'
