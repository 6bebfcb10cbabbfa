# libtorch + gotch (see ../shared/spec/libtorch.md): Debian's libtorch 1.13.1
# with OpenBLAS (OpenMP build), python3-torch as the PyTorch reference, and
# gotch v0.9.1 copied from the module cache into the ignored .build/gotch,
# pruned, patched by tools/gotchpatch and wired in by an ignored go.work.
# gotch's C++ goes to .build/native-src; native/build.sh compiles it with
# native/*.cc into .build/native/libcoldint_torch.so against LIBTORCH (a
# folder with include/ and lib/; default: Debian's, through the generated
# .build/libtorch-debian). gotch's source is never committed.

TORCH_APT_PKGS := libtorch-dev libgloo-dev libopenblas0-openmp python3-torch
GOTCH_MOD := github.com/sugarme/gotch
GOTCH_VERSION := v0.9.1
GOTCH_DIR := $(BUILD)/gotch
NATIVE_SRC := $(BUILD)/native-src
NATIVE_DIR := $(BUILD)/native
NATIVE_LIB := $(NATIVE_DIR)/libcoldint_torch.so
LIBTORCH_KEY := $(NATIVE_DIR)/libtorch.key
DEBIAN_LIBTORCH := $(BUILD)/libtorch-debian
DEBIAN_LIBTORCH_STAMP := $(BUILD)/stamps/libtorch-debian
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# make build LIBTORCH=DIR, or COLDINT_LIBTORCH=DIR in the environment.
LIBTORCH ?= $(or $(COLDINT_LIBTORCH),$(DEBIAN_LIBTORCH))
GOTCH_STAMP := $(BUILD)/stamps/gotch-$(GOTCH_VERSION)
TORCH_APT_STAMP := $(BUILD)/stamps/torch-apt
OPENBLAS_OMP := /usr/lib/x86_64-linux-gnu/openblas-openmp
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup-torch setup-native FORCE
TEST_SETUP += setup-torch

setup-torch: $(TORCH_APT_STAMP) setup-native ## install libtorch/OpenBLAS/python3-torch, the patched gotch copy and the native library

setup-native: $(GOTCH_STAMP) go.work $(NATIVE_LIB) ## build the patched gotch copy and .build/native/libcoldint_torch.so against LIBTORCH

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
$(GOTCH_STAMP): mk/torch.mk $(filter-out %_test.go,$(wildcard tools/gotchpatch/*.go)) $(wildcard native/*.h)
	@mkdir -p $(@D)
	rm -rf $(GOTCH_DIR) $(GOTCH_DIR).tmp $(NATIVE_SRC) $(NATIVE_SRC).tmp
	GOWORK=off go mod download $(GOTCH_MOD)@$(GOTCH_VERSION)
	src="$$(GOWORK=off go mod download -json $(GOTCH_MOD)@$(GOTCH_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')"; \
		test -n "$$src" -a -d "$$src" || { echo "torch: gotch module folder not found" >&2; exit 1; }; \
		cp -R "$$src" $(GOTCH_DIR).tmp
	chmod -R u+w $(GOTCH_DIR).tmp
	rm -rf $(GOTCH_DIR).tmp/example $(GOTCH_DIR).tmp/gen
	find $(GOTCH_DIR).tmp -name '*_test.go' -delete
	GOWORK=off go run ./tools/gotchpatch $(GOTCH_DIR).tmp $(NATIVE_SRC).tmp $(sort $(wildcard native/*.h))
	mv $(NATIVE_SRC).tmp $(NATIVE_SRC)
	mv $(GOTCH_DIR).tmp $(GOTCH_DIR)
	@touch $@

# Debian's libtorch as a libtorch folder (include/ and lib/ as symlinks), so
# the default build takes the same path as any other libtorch.
$(DEBIAN_LIBTORCH_STAMP): mk/torch.mk | $(TORCH_APT_STAMP)
	@mkdir -p $(@D)
	rm -rf $(DEBIAN_LIBTORCH) $(DEBIAN_LIBTORCH).tmp
	mkdir -p $(DEBIAN_LIBTORCH).tmp
	ln -s /usr/include $(DEBIAN_LIBTORCH).tmp/include
	ln -s /usr/lib/$(MULTIARCH) $(DEBIAN_LIBTORCH).tmp/lib
	mv $(DEBIAN_LIBTORCH).tmp $(DEBIAN_LIBTORCH)
	@touch $@

# The libtorch folder the library is built against, rewritten only when it
# changes, so a new LIBTORCH rebuilds and the same one does not.
$(LIBTORCH_KEY): FORCE
	@mkdir -p $(@D)
	@k="$(abspath $(LIBTORCH))"; [ "$$(cat $@ 2>/dev/null)" = "$$k" ] || { echo "native: libtorch folder $$k"; echo "$$k" > $@; }

# native/build.sh keeps its objects in $(NATIVE_DIR)/obj and recompiles only
# those whose source or flags changed.
$(NATIVE_LIB): $(LIBTORCH_KEY) $(GOTCH_STAMP) native/build.sh $(wildcard native/*.cc native/*.h) \
		$(if $(filter $(DEBIAN_LIBTORCH),$(LIBTORCH)),$(DEBIAN_LIBTORCH_STAMP))
	COLDINT_NATIVE_SRC=$(NATIVE_SRC) sh native/build.sh $(LIBTORCH) $(NATIVE_DIR)

# The workspace that points gotch at the patched copy (ignored, generated).
go.work: mk/torch.mk
	printf 'go 1.26.8\n\nuse .\n\nreplace $(GOTCH_MOD) $(GOTCH_VERSION) => ./$(GOTCH_DIR)\n' > $(BUILD)/go.work.tmp
	mv $(BUILD)/go.work.tmp go.work
FORCE:
