#!/bin/sh
# Builds libcoldint_torch.so, the engine's native library, against one
# libtorch folder. It needs only a C++ compiler, POSIX sh, awk, sed, nm and
# xargs: no Go.
#
#   native/build.sh LIBTORCH_DIR OUT_DIR
#
# LIBTORCH_DIR holds include/ and lib/: the official libtorch archive, the
# torch/ folder of a pip-installed PyTorch, or coldint's .build/libtorch-debian.
# OUT_DIR receives libcoldint_torch.so, stubbed.txt (the generated wrappers
# that do not compile against this libtorch) and obj/ (objects kept for the
# next build; an object is rebuilt only when its source or flags change).
#
# The library holds gotch's C wrapper (patched copies made by
# tools/gotchpatch in .build/native-src, or COLDINT_NATIVE_SRC) and every
# native/*.cc. The generated wrappers are compiled in chunks in parallel; a
# wrapper that does not compile against this libtorch is replaced by a stub
# that sets gotch's last error, so the exported symbols are the same for
# every libtorch.
#
# Environment: CXX (default g++), COLDINT_NATIVE_JOBS (default nproc),
# COLDINT_NATIVE_CHUNKS (default: jobs), COLDINT_NATIVE_SRC (gotch's
# sources), COLDINT_NATIVE_CC (the folder of coldint's own *.cc, default this
# script's folder; tests point it elsewhere), COLDINT_NATIVE_CXXFLAGS (extra
# compiler flags, for example -std=c++20 for a libtorch that needs it).
set -eu

prog=native/build.sh
die() {
	echo "$prog: $*" >&2
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)

# chunks lists the names of this build's wrapper chunks.
chunks() {
	for f in "$OBJ"/chunk_*.src; do
		c=$(basename "$f" .src)
		if [ -f "$f" ] && [ "${c#chunk_}" -lt "$CHUNKS" ]; then echo "$c"; fi
	done
}

# key prints the cache key of an object: its source, flags and libtorch.
key() {
	{
		cat "$1"
		echo "$2 $NB_KEY_EXTRA"
	} | cksum
}

# compile SRC OBJECT FLAGS: compiles unless the object's key is unchanged.
compile() {
	k=$(key "$1" "$3")
	[ -f "$2" ] && [ -f "$2.key" ] && [ "$(cat "$2.key")" = "$k" ] && return 0
	rm -f "$2.key"
	# shellcheck disable=SC2086
	$CXX $3 -c "$1" -o "$2.tmp" || return 1
	mv "$2.tmp" "$2"
	echo "$k" >"$2.key"
}

# run_job KIND NAME builds one object (KIND: chunk, wrap, native).
run_job() {
	case $1 in
	chunk) build_chunk "$2" ;;
	wrap) compile "$SRC/$2" "$OBJ/torch_api.o" "$NB_WRAP_FLAGS" ;;
	native) compile "$CCDIR/$2" "$OBJ/native_${2%.cc}.o" "$NB_NATIVE_FLAGS" ;;
	*) die "unknown job $1" ;;
	esac
}

# build_chunk NAME compiles one chunk of wrappers; a wrapper the compiler
# rejects is replaced by a stub and the chunk compiled again.
build_chunk() {
	src="$OBJ/$1.src" cpp="$OBJ/$1.cpp" o="$OBJ/$1.o" log="$OBJ/$1.log"
	k=$(key "$src" "$NB_WRAP_FLAGS")
	[ -f "$o" ] && [ -f "$o.key" ] && [ "$(cat "$o.key")" = "$k" ] && [ -f "$OBJ/$1.stubbed" ] && return 0
	rm -f "$o.key" "$OBJ/$1.stubbed"
	cp "$src" "$cpp"
	: >"$OBJ/$1.stubbed.tmp"
	round=1
	# shellcheck disable=SC2086
	until LC_ALL=C $CXX $NB_WRAP_FLAGS -fmax-errors=0 -c "$cpp" -o "$o.tmp" 2>"$log"; do
		names=$(failing_wrappers "$cpp" "$log")
		if [ -z "$names" ] || [ "$round" -gt 3 ]; then
			cat "$log" >&2
			die "$1: compile errors outside the generated wrappers (round $round)"
		fi
		echo "$prog: $1: stubbing $(echo "$names" | wc -l) wrappers that do not compile against this libtorch"
		echo "$names" >>"$OBJ/$1.stubbed.tmp"
		stub_wrappers "$cpp" "$names"
		round=$((round + 1))
	done
	mv "$o.tmp" "$o"
	sort "$OBJ/$1.stubbed.tmp" >"$OBJ/$1.stubbed"
	rm -f "$OBJ/$1.stubbed.tmp"
	echo "$k" >"$o.key"
}

# failing_wrappers FILE LOG prints the atg_* functions of FILE that hold the
# errors in the compiler's LOG: an "In function" context line, or an error or
# the end of a template instantiation chain located inside a wrapper.
failing_wrappers() {
	base=$(basename "$1")
	awk -v base="$base" '
		FNR == NR {
			if (match($0, /^[A-Za-z_].*atg_[A-Za-z0-9_]+\(.*\{[ \t]*$/)) {
				s = $0; sub(/\(.*/, "", s); sub(/.*[^A-Za-z0-9_]/, "", s)
				name = s; start = FNR
			} else if ($0 == "}" && name != "") {
				n++; from[n] = start; to[n] = FNR; who[n] = name; name = ""
			}
			next
		}
		index($0, base ": In function") {
			s = $0; sub(/^.*: In function [^A-Za-z_]*/, "", s)
			if (match(s, /atg_[A-Za-z0-9_]+\(/)) { print substr(s, RSTART, RLENGTH - 1); next }
		}
		index($0, base ":") {
			s = substr($0, index($0, base ":") + length(base) + 1)
			if (s !~ /^[0-9]+:[0-9]+:[ \t]+(error:|required from here)/) next
			line = s + 0
			for (i = 1; i <= n; i++) if (from[i] <= line && line <= to[i]) { print who[i]; break }
		}
	' "$1" "$2" | sort -u
}

# stub_wrappers FILE NAMES replaces the bodies of the named wrappers by a
# stub that sets gotch's last error and returns.
stub_wrappers() {
	echo "$2" | awk '
		FNR == NR { if ($0 != "") want[$0] = 1; next }
		skip { if ($0 == "}") { print; skip = 0 } ; next }
		/^[A-Za-z_].*atg_[A-Za-z0-9_]+\(.*\{[ \t]*$/ {
			s = $0; sub(/\(.*/, "", s); name = s; sub(/.*[^A-Za-z0-9_]/, "", name)
			if (name in want) {
				ret = s; sub(/[ \t]*atg_[A-Za-z0-9_]+$/, "", ret)
				print
				print "  torch_last_err = strdup(\"gotch: " name " is not available in libtorch \" TORCH_VERSION);"
				if (ret ~ /\*$/) print "  return nullptr;"
				else if (ret != "void") print "  return 0;"
				skip = 1
				next
			}
		}
		{ print }
	' - "$1" >"$1.new"
	mv "$1.new" "$1"
}

# Worker mode, run through xargs: build.sh --job KIND NAME.
if [ "${1:-}" = --job ]; then
	run_job "$2" "$3"
	exit 0
fi

[ $# -eq 2 ] || die "usage: $prog LIBTORCH_DIR OUT_DIR"
case "$1$2" in
*[[:space:]]*) die "folder names with spaces are not supported: \"$1\", \"$2\"" ;;
esac
[ -d "$1" ] || die "libtorch folder \"$1\" does not exist"
LT=$(cd "$1" && pwd)
inc="$LT/include"
lib="$LT/lib"
api="$inc/torch/csrc/api/include"
[ -f "$api/torch/torch.h" ] || die "libtorch folder \"$LT\" has no headers: $api/torch/torch.h is missing (want a folder with include/ and lib/)"
[ -f "$api/torch/version.h" ] || die "libtorch folder \"$LT\" has no include/torch/csrc/api/include/torch/version.h"
for l in torch torch_cpu c10; do
	[ -e "$lib/lib$l.so" ] || die "libtorch folder \"$LT\" has no libraries: $lib/lib$l.so is missing"
done

CXX=${CXX:-g++}
command -v "$CXX" >/dev/null 2>&1 || die "C++ compiler \"$CXX\" not found (set CXX)"
SRC=${COLDINT_NATIVE_SRC:-$here/../.build/native-src}
[ -f "$SRC/torch_api.cpp" ] && [ -f "$SRC/torch_api_generated.cpp.h" ] ||
	die "gotch sources not found in \"$SRC\" (run make setup-native, which writes .build/native-src, or set COLDINT_NATIVE_SRC)"
SRC=$(cd "$SRC" && pwd)
CCDIR=$(cd "${COLDINT_NATIVE_CC:-$here}" && pwd)
mkdir -p "$2/obj"
OUT=$(cd "$2" && pwd)
OBJ="$OUT/obj"

JOBS=${COLDINT_NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}
# One chunk per job: every chunk parses libtorch's headers (8 s of CPU),
# and a precompiled header costs more to write (30 s, 600 MB) than it saves.
CHUNKS=${COLDINT_NATIVE_CHUNKS:-$JOBS}

version=$(awk '/^#define TORCH_VERSION([ \t]|$)/ { f = 1 } f && /"/ { sub(/^[^"]*"/, ""); sub(/".*/, ""); print; exit }' "$api/torch/version.h")
[ -n "$version" ] || die "no TORCH_VERSION in $api/torch/version.h"

# The C++ ABI: TorchConfig.cmake's TORCH_CXX_FLAGS when the folder has it,
# else whether libc10 exports symbols of the new (__cxx11) std::string.
cmake="$LT/share/cmake/Torch/TorchConfig.cmake"
abi=
if [ -f "$cmake" ]; then
	abi=$(sed -n 's/.*_GLIBCXX_USE_CXX11_ABI=\([01]\).*/\1/p' "$cmake" | head -n 1)
fi
if [ -z "$abi" ]; then
	if nm -D --defined-only "$lib/libc10.so" | grep -q __cxx11; then abi=1; else abi=0; fi
fi

cuda=0
cudalibs=
if [ -e "$lib/libtorch_cuda.so" ]; then
	cuda=1
	cudalibs="-ltorch_cuda"
	if [ -e "$lib/libc10_cuda.so" ]; then cudalibs="$cudalibs -lc10_cuda"; fi
fi

# An include folder that is the system's own must not be named with -I
# (it would come before the C library's headers and break #include_next).
incflags="-I$api"
case "$(cd "$inc" && pwd -P)" in
/usr/include | /usr/local/include) ;;
*) incflags="-I$inc $incflags" ;;
esac
libreal=$(cd "$lib" && pwd -P)

# OpenMP: native/*.cc use the runtime libtorch ships when it ships one.
omplink=-fopenmp
for f in "$lib"/libgomp*.so*; do
	if [ -e "$f" ]; then omplink="$f" && break; fi
done

base="-std=c++17 -fPIC -g0 -w -D_GLIBCXX_USE_CXX11_ABI=$abi"
if [ -n "${COLDINT_NATIVE_CXXFLAGS:-}" ]; then base="$base $COLDINT_NATIVE_CXXFLAGS"; fi
if [ "$cuda" = 1 ]; then base="$base -DCOLDINT_WITH_CUDA=1"; fi
export CXX SRC OBJ CHUNKS CCDIR
export NB_WRAP_FLAGS="$base -O1 -I$SRC $incflags"
export NB_NATIVE_FLAGS="$base -O3 -fopenmp -I$CCDIR $incflags"
# Object keys also cover every header of the gotch sources and of native/.
export NB_KEY_EXTRA="$LT $version $(cat "$api/torch/version.h" "$SRC"/*.h "$CCDIR"/*.h 2>/dev/null | cksum)"

echo "$prog: libtorch $version at $LT (C++11 ABI $abi, CUDA $cuda), $CHUNKS chunks, $JOBS jobs"
start=$(date +%s)

# Split the generated wrappers into chunks at function boundaries; each
# chunk starts with the two include lines it needs.
rm -f "$OBJ"/chunk_*.src.new
awk -v n="$CHUNKS" -v dir="$OBJ" '
	FNR == NR { if ($0 ~ /^[A-Za-z_].*atg_[A-Za-z0-9_]+\(.*\{[ \t]*$/) total++; next }
	FNR == 1 { cur = -1 }
	/^[A-Za-z_].*atg_[A-Za-z0-9_]+\(.*\{[ \t]*$/ {
		k = int(seen * n / total); seen++
		if (k != cur) {
			cur = k; file = sprintf("%s/chunk_%03d.src.new", dir, k)
			print "#include \"torch_api.h\"\n#include <torch/version.h>" > file
		}
	}
	cur >= 0 { print > file }
' "$SRC/torch_api_generated.cpp.h" "$SRC/torch_api_generated.cpp.h"
for f in "$OBJ"/chunk_*.src.new; do
	t=${f%.new}
	if [ -f "$t" ] && cmp -s "$f" "$t"; then rm -f "$f"; else mv "$f" "$t"; fi
done

jobs=$(
	for c in $(chunks); do echo "chunk $c"; done
	echo "wrap torch_api.cpp"
	for f in "$CCDIR"/*.cc; do if [ -f "$f" ]; then echo "native $(basename "$f")"; fi; done
)
echo "$jobs" | xargs -P "$JOBS" -L 1 sh "$here/build.sh" --job ||
	die "compiling failed (see the messages above)"

# Facts the library reports through coldint_native_info.
stubbed=$(for c in $(chunks); do cat "$OBJ/$c.stubbed"; done | sed '/^$/d' | sort)
nstub=$(printf '%s' "$stubbed" | grep -c . || true)
sdpa=1
printf '%s\n' "$stubbed" | grep -qx atg_scaled_dot_product_attention && sdpa=0
esc() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }
cat >"$OBJ/build_info.cc.new" <<EOF
// Generated by native/build.sh.
extern "C" {
extern const char coldint_build_libtorch_dir[] = "$(esc "$LT")";
extern const char coldint_build_compiler[] = "$(esc "$("$CXX" --version | head -n 1)")";
extern const int coldint_build_cxx11_abi = $abi;
extern const int coldint_build_stubbed = $nstub;
extern const int coldint_build_sdpa = $sdpa;
}
EOF
mv "$OBJ/build_info.cc.new" "$OBJ/build_info.cc"
$CXX $base -c "$OBJ/build_info.cc" -o "$OBJ/build_info.o"

objs=$(
	for c in $(chunks); do echo "$OBJ/$c.o"; done
	echo "$OBJ/torch_api.o"
	for f in "$CCDIR"/*.cc; do if [ -f "$f" ]; then echo "$OBJ/native_$(basename "$f" .cc).o"; fi; done
	echo "$OBJ/build_info.o"
)
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
$CXX -shared -o "$OUT/libcoldint_torch.so.tmp" $objs \
	-Wl,-soname,libcoldint_torch.so -Wl,--enable-new-dtags -Wl,-rpath,"$libreal" \
	-L"$lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 $cudalibs -Wl,--as-needed \
	$omplink -ldl -Wl,--no-undefined ||
	die "linking libcoldint_torch.so failed"
printf '%s\n' "$stubbed" | sed '/^$/d' >"$OUT/stubbed.txt"
mv "$OUT/libcoldint_torch.so.tmp" "$OUT/libcoldint_torch.so"
echo "$prog: wrote $OUT/libcoldint_torch.so ($nstub wrappers stubbed, $(($(date +%s) - start)) s)"
