# libtorch + gotch (see ../shared/spec/libtorch.md): Debian's libtorch 1.13.1
# with OpenBLAS (OpenMP build), python3-torch as the PyTorch reference, and
# gotch v0.9.1 copied from the module cache into the ignored .build/gotch,
# pruned, patched by tools/gotchpatch and wired in by an ignored go.work.
# gotch's source is never committed.

TORCH_APT_PKGS := libtorch-dev libopenblas0-openmp python3-torch
GOTCH_MOD := github.com/sugarme/gotch
GOTCH_VERSION := v0.9.1
GOTCH_DIR := $(BUILD)/gotch
GOTCH_STAMP := $(BUILD)/stamps/gotch-$(GOTCH_VERSION)
TORCH_APT_STAMP := $(BUILD)/stamps/torch-apt
OPENBLAS_OMP := /usr/lib/x86_64-linux-gnu/openblas-openmp
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup-torch
TEST_SETUP += setup-torch

setup-torch: $(TORCH_APT_STAMP) $(GOTCH_STAMP) go.work ## install libtorch/OpenBLAS/python3-torch and build the patched gotch copy

# System packages. The stamp is only a shortcut: the recipe itself checks dpkg
# and skips apt-get when everything is installed already.
$(TORCH_APT_STAMP): mk/torch.mk
	@mkdir -p $(@D)
	@if dpkg-query -W -f='$${Status}\n' $(TORCH_APT_PKGS) 2>/dev/null | grep -c '^install ok installed$$' | grep -qx $(words $(TORCH_APT_PKGS)); then \
		echo "torch: $(TORCH_APT_PKGS) already installed"; \
	else \
		echo "torch: apt-get install $(TORCH_APT_PKGS)"; \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $(TORCH_APT_PKGS); \
	fi
	@# keep OpenBLAS's OpenMP build as libblas/liblapack (the pthread build would oversubscribe)
	$(SUDO) update-alternatives --set libblas.so.3-x86_64-linux-gnu $(OPENBLAS_OMP)/libblas.so.3
	$(SUDO) update-alternatives --set liblapack.so.3-x86_64-linux-gnu $(OPENBLAS_OMP)/liblapack.so.3
	@touch $@

# The patched copy: rebuilt from scratch when the patch tool or this file changes.
# Built in a temporary folder and renamed, so an interrupted run leaves no half tree.
$(GOTCH_STAMP): mk/torch.mk $(filter-out %_test.go,$(wildcard tools/gotchpatch/*.go))
	@mkdir -p $(@D)
	rm -rf $(GOTCH_DIR) $(GOTCH_DIR).tmp
	GOWORK=off go mod download $(GOTCH_MOD)@$(GOTCH_VERSION)
	src="$$(GOWORK=off go mod download -json $(GOTCH_MOD)@$(GOTCH_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')"; \
		test -n "$$src" -a -d "$$src" || { echo "torch: gotch module folder not found" >&2; exit 1; }; \
		cp -R "$$src" $(GOTCH_DIR).tmp
	chmod -R u+w $(GOTCH_DIR).tmp
	rm -rf $(GOTCH_DIR).tmp/example $(GOTCH_DIR).tmp/gen
	find $(GOTCH_DIR).tmp -name '*_test.go' -delete
	GOWORK=off go run ./tools/gotchpatch $(GOTCH_DIR).tmp
	mv $(GOTCH_DIR).tmp $(GOTCH_DIR)
	@touch $@

# The workspace that points gotch at the patched copy (ignored, generated).
go.work: mk/torch.mk
	printf 'go 1.26.8\n\nuse .\n\nreplace $(GOTCH_MOD) $(GOTCH_VERSION) => ./$(GOTCH_DIR)\n' > $(BUILD)/go.work.tmp
	mv $(BUILD)/go.work.tmp go.work
