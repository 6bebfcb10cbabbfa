# The GPU check (tools/gpucheck, see its README.md): one prepared call on a
# lent NVIDIA H100/H200. gpucheck-prepare builds here what that call carries,
# checks that the tree plus the carried paths stay under the device tool's
# 64 MiB, and prints the exact call. gpucheck-dry-run runs the same script on
# the CPU with tiny models (no GPU, no transformers needed).

GPUCHECK_CARRY ?= bin/coldint .build/native-src
GPUCHECK_LIMIT_MIB ?= 64
GPUCHECK_TIMEOUT_S ?= 510

.PHONY: gpucheck-prepare gpucheck-dry-run

gpucheck-prepare: build ## build what the GPU check carries, check the 64 MiB limit, print the device call
	@set -euo pipefail; \
	test -f native/build.sh || { echo "gpucheck-prepare: native/build.sh is missing (the native layer is not merged)" >&2; exit 1; }; \
	test -d .build/native-src || { echo "gpucheck-prepare: .build/native-src is missing (the native layer's sources for the device build)" >&2; exit 1; }; \
	if readelf -d bin/coldint | grep -qE 'NEEDED.*(libtorch_cpu|libc10)\.so\.[0-9]'; then \
	  echo "gpucheck-prepare: bin/coldint needs Debian's versioned libtorch ($$(readelf -d bin/coldint | grep -oE '(libtorch_cpu|libc10)\.so\.[0-9.]+' | sort -u | tr '\n' ' '))," >&2; \
	  echo "  which the device's pip PyTorch does not have: build it against the native layer (libcoldint_torch.so)" >&2; \
	  test -n "$${GPUCHECK_ALLOW_DEBIAN_LIBTORCH:-}" || exit 1; \
	fi; \
	tree=$$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $$1} END {print s + 0}'); \
	carry=$$(du -sb $(GPUCHECK_CARRY) | awk '{s += $$1} END {print s + 0}'); \
	total=$$((tree + carry)); limit=$$(($(GPUCHECK_LIMIT_MIB) * 1048576)); \
	awk -v t=$$tree -v c=$$carry -v l=$(GPUCHECK_LIMIT_MIB) 'BEGIN { m = 1048576; \
	  printf "gpucheck-prepare: tree %.1f MiB + carried %.1f MiB = %.1f MiB of %d MiB\n", t / m, c / m, (t + c) / m, l }'; \
	test "$$total" -le "$$limit" || { echo "gpucheck-prepare: over the device tool's $(GPUCHECK_LIMIT_MIB) MiB" >&2; exit 1; }; \
	carry_json=$$(printf '"%s", ' $(GPUCHECK_CARRY)); \
	echo "device tool call (run), from the root of this checkout:"; \
	echo "  command:   PYTHONUNBUFFERED=1 bash tools/gpucheck/run.sh"; \
	echo "  carry:     [$${carry_json%, }]"; \
	echo "  timeout_s: $(GPUCHECK_TIMEOUT_S)"; \
	echo "  kind:      leave it out (nvidia-h100-x1; nvidia-h200 runs the same script)"

gpucheck-dry-run: ## run the GPU check's script on the CPU with tiny models (Debian python3-torch, bin/coldint)
	@test -x bin/coldint || $(MAKE) --no-print-directory build
	bash tools/gpucheck/run.sh --dry-run
