# Web app browser test (owner: demo/web helper).
# setup-web installs Debian's chromium (apt, no recommends) and playwright-core
# (pinned in tools/webtest/package.json) into .build/npm/web. playwright-core
# never downloads a browser: the test launches /usr/bin/chromium.

WEB_NPM := $(BUILD)/npm/web
WEB_APT_STAMP := $(BUILD)/stamps/web-apt
WEB_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup-web
TEST_SETUP += setup-web

setup-web: $(WEB_APT_STAMP) $(WEB_NPM)/.stamp ## install chromium (Debian) and playwright-core (npm) for the browser test

$(WEB_APT_STAMP): mk/web.mk
	@mkdir -p $(@D)
	@pkgs=""; command -v chromium >/dev/null || pkgs="chromium"; \
	command -v node >/dev/null && command -v npm >/dev/null || pkgs="$$pkgs nodejs npm"; \
	if [ -z "$$pkgs" ]; then echo "web: chromium, node and npm already installed"; else \
		echo "web: apt-get install$$pkgs"; \
		$(WEB_SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $(WEB_SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$pkgs; \
	fi
	test -x /usr/bin/chromium
	@touch $@

$(WEB_NPM)/.stamp: tools/webtest/package.json $(WEB_APT_STAMP)
	mkdir -p $(WEB_NPM)
	cp tools/webtest/package.json $(WEB_NPM)/package.json
	cd $(WEB_NPM) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $(WEB_NPM)/node_modules/playwright-core/package.json
	touch $@

.PHONY: bench-web
BENCH += bench-web

bench-web: setup-torch ## generation speed: KV-cache decoding vs full recomputation per token (peer)
	@go test ./model/ -run '^$$' -bench '^BenchmarkGenerate$$' -benchtime 3x -count 1 | tee $(BUILD)/bench-web.txt
	@awk '/kvcache/ {for (i=1;i<=NF;i++) if ($$(i+1)=="tokens/s") k=$$i} /recompute/ {for (i=1;i<=NF;i++) if ($$(i+1)=="tokens/s") r=$$i} \
		END {if (k && r) printf "bench-web: %.0f tokens/s with the KV cache, %.0f recomputing: %.1fx\n", k, r, k/r}' $(BUILD)/bench-web.txt
