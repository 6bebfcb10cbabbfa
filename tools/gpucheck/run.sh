#!/usr/bin/env bash
# The GPU check: one call on a lent H100/H200 (see tools/gpucheck/README.md).
#
#   bash tools/gpucheck/run.sh [--dry-run] [--out DIR] [--only STEP,STEP] [--budget SECONDS]
#
# Builds the native layer against the machine's PyTorch (in the background,
# while models and reference losses are made), then runs the checks, each
# under a time limit inside one global budget. Full logs and JSON go to the
# output folder ($OUT on the device machine); a short table is printed last.
# --dry-run runs the same steps on the CPU with tiny models and Debian's
# torch, skipping what needs CUDA or transformers with the reason.
# Exit status: 0 when no check failed, 1 otherwise, 2 on bad usage.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

DRY=0 OUT_DIR="" ONLY="" BUDGET="${GPUCHECK_BUDGET_S:-450}"
while (($#)); do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT_DIR="${2:?--out needs a folder}"; shift ;;
    --only) ONLY="${2:?--only needs step names}"; shift ;;
    --budget) BUDGET="${2:?--budget needs seconds}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument \"$1\"" >&2; usage ;;
  esac
  shift
done
[[ "$BUDGET" =~ ^[0-9]+$ ]] || { echo "run.sh: --budget \"$BUDGET\" is not a number of seconds" >&2; exit 2; }
[[ "${GPUCHECK_DRY_RUN:-}" == 1 ]] && DRY=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/gpucheck"
cd "$ROOT"
START=$(date +%s)
DEADLINE=$((START + BUDGET - 15)) # 15 s kept for the summary

OUT_DIR="${OUT_DIR:-${GPUCHECK_OUT:-${OUT:-$ROOT/.build/gpucheck/out}}}"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
LOG="$OUT_DIR/gpucheck.log"
rm -f "$OUT_DIR/results.jsonl" "$OUT_DIR/summary.txt" "$OUT_DIR/env.txt"
: >"$LOG"

# Python: the one with torch (the device's python3; here Debian's /usr/bin/python3).
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then PY="$p"; break; fi
  done
fi
PLAINPY="${PY:-python3}"

# Work folder for models: tmpfs when it has room (the 7B model is 13.5 GB).
if [[ -z "${GPUCHECK_WORK:-}" ]]; then
  if ((DRY)); then
    GPUCHECK_WORK="$ROOT/.build/gpucheck/work"
  elif [[ -d /dev/shm ]] && (($(df -Pk /dev/shm | awk 'NR==2 {print $4}') > 48 * 1024 * 1024)); then
    GPUCHECK_WORK=/dev/shm/gpucheck-work
  else
    GPUCHECK_WORK=/tmp/gpucheck-work
  fi
fi
mkdir -p "$GPUCHECK_WORK"

export GPUCHECK_DRY_RUN=$DRY GPUCHECK_OUT="$OUT_DIR" GPUCHECK_WORK GPUCHECK_DEADLINE=$DEADLINE PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export GPUCHECK_COLDINT="${GPUCHECK_COLDINT:-$ROOT/bin/coldint}"
export NO_COLOR=1

note() { echo "gpucheck: $*" | tee -a "$LOG"; }

# row CHECK STATUS VALUE NOTE: a result row written by this script.
row() {
  "$PLAINPY" -c 'import json,sys; print(json.dumps({"check": sys.argv[1], "status": sys.argv[2], "value": sys.argv[3], "mark": "", "note": sys.argv[4]}))' \
    "$1" "$2" "$3" "$4" >>"$OUT_DIR/results.jsonl"
}

has_row() { [[ -f "$OUT_DIR/results.jsonl" ]] && grep -q "\"check\": \"$1" "$OUT_DIR/results.jsonl"; }

selected() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }

# The prefix of each Python step's rows, and the name of the row written for
# a step that wrote none (as checks.PREFIX and checks.ROW).
prefix_of() {
  case "$1" in
    parity) echo 2-parity- ;; evalbench) echo 3-eval- ;; trainbench) echo 4-train- ;;
    slices) echo 5-sliced-7b ;; badinput) echo 6- ;; env) echo 0-env ;; *) echo "$1" ;;
  esac
}
row_of() {
  case "$1" in
    parity) echo 2-parity ;; evalbench) echo 3-eval ;; trainbench) echo 4-train ;;
    badinput) echo 6-bad-input ;; *) prefix_of "$1" ;;
  esac
}

# step NAME CAP MIN: runs gpucheck.py NAME for at most CAP seconds (less when
# the global budget is nearly spent; skipped with a row when under MIN left).
# A step that dies without writing its row gets a FAIL row here.
step() {
  local name=$1 cap=$2 min=$3 left t rc=0 t0 prefix rowname
  selected "$name" || return 0
  prefix=$(prefix_of "$name") rowname=$(row_of "$name")
  left=$((DEADLINE - $(date +%s)))
  if ((left < min)); then
    row "$rowname" SKIP "" "time guard: ${left} s of the budget left, the step needs about ${min} s"
    note "$name skipped: ${left} s left"
    return 0
  fi
  t=$((cap < left ? cap : left))
  t0=$(date +%s)
  echo "== $name (limit ${t} s)" >>"$LOG"
  timeout -k 10 "$t" "$PY" "$HERE/gpucheck.py" "$name" >>"$LOG" 2>&1 || rc=$?
  note "$(printf '%-12s exit %3d after %3d s (%d s of the budget left)' "$name" "$rc" $(($(date +%s) - t0)) $((DEADLINE - $(date +%s))))"
  if ((rc != 0)) && ! has_row "$prefix"; then
    if ((rc == 124 || rc == 137)); then
      row "$rowname" FAIL "" "step $name timed out after ${t} s (see gpucheck.log)"
    else
      row "$rowname" FAIL "" "step $name exited $rc (see gpucheck.log)"
    fi
  fi
}

summary() {
  local rc=0
  "$PLAINPY" "$HERE/summary.py" "$OUT_DIR" "$GPUCHECK_WORK" $(($(date +%s) - START)) "$BUDGET" || rc=$?
  exit "$rc"
}

note "$( ((DRY)) && echo "dry run on the CPU" || echo "GPU run"), budget ${BUDGET} s, output in $OUT_DIR, models in $GPUCHECK_WORK"
if [[ -z "$PY" ]]; then
  row 0-python FAIL "" "no python3 that imports torch (set PYTHON)"
  summary
fi
{ command -v nvidia-smi >/dev/null && nvidia-smi; uname -a; "$PY" -m pip list 2>/dev/null | grep -iE '^(torch|transformers|safetensors|numpy) ' || true; } >>"$OUT_DIR/env.txt" 2>&1 || true
{ echo "== coldint binary"; ls -l "$GPUCHECK_COLDINT"; ldd "$GPUCHECK_COLDINT"; } >>"$OUT_DIR/env.txt" 2>&1 || true

# Stage 1: the native layer, built in the background while models are made.
BUILD_PID=""
NATIVE_OUT="$GPUCHECK_WORK/native"
TORCH_DIR="$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>>"$LOG" || true)"
BUILD_CAP="${GPUCHECK_BUILD_CAP_S:-240}"
if selected build && ((!DRY)); then
  rm -rf "$NATIVE_OUT" "$GPUCHECK_WORK/build.rc"
  BUILD_T0=$(date +%s)
  (
    rc=0
    timeout -k 10 "$BUILD_CAP" bash native/build.sh "$TORCH_DIR" "$NATIVE_OUT" >"$GPUCHECK_WORK/build.log" 2>&1 || rc=$?
    echo "$rc $(($(date +%s) - BUILD_T0))" >"$GPUCHECK_WORK/build.rc"
  ) &
  BUILD_PID=$!
  note "native build started against $TORCH_DIR (limit ${BUILD_CAP} s)"
fi
export GPUCHECK_COLDINT_LD="$NATIVE_OUT:${TORCH_DIR:+$TORCH_DIR/lib}"
((DRY)) && export GPUCHECK_COLDINT_LD=""

step env 60 10
step prep-parity 90 20
step prep-bench 60 15
step prep-big 90 30
step prep-bad 40 10

if selected build; then
  if ((DRY)); then
    row 1-build SKIP "" "dry run: no CUDA libtorch to build native/ against"
  elif [[ -n "$BUILD_PID" ]]; then
    wait "$BUILD_PID" || true
    read -r rc secs <"$GPUCHECK_WORK/build.rc" || { rc=1 secs=$(($(date +%s) - BUILD_T0)); }
    { echo "== native build log (last 60 lines)"; tail -n 60 "$GPUCHECK_WORK/build.log"; } >>"$LOG" 2>&1 || true
    if [[ "$rc" == 0 && -f "$NATIVE_OUT/libcoldint_torch.so" ]]; then
      row 1-build PASS "libcoldint_torch.so in ${secs} s" "against $TORCH_DIR"
    elif [[ "$rc" == 124 || "$rc" == 137 ]]; then
      row 1-build FAIL "" "native/build.sh timed out after ${BUILD_CAP} s (see gpucheck.log)"
    else
      row 1-build FAIL "exit $rc after ${secs} s" "$(tail -n 1 "$GPUCHECK_WORK/build.log" 2>/dev/null | cut -c1-160)"
    fi
  fi
  # engine-info: which libtorch the binary runs on, and whether it has CUDA.
  info_rc=0
  info="$(LD_LIBRARY_PATH="${GPUCHECK_COLDINT_LD}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 60 "$GPUCHECK_COLDINT" engine-info --json 2>>"$LOG")" || info_rc=$?
  echo "== engine-info (exit $info_rc): $info" >>"$LOG"
  echo "engine-info: $info" >>"$OUT_DIR/env.txt"
  cuda="$(printf '%s' "$info" | "$PLAINPY" -c 'import json,sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("unparsed"); sys.exit()
hits = [v for k, v in d.items() if "cuda" in k.lower() and isinstance(v, bool)]
print("yes" if hits and all(hits) else "no")' 2>/dev/null || echo unparsed)"
  short="$(printf '%s' "$info" | tr -d '\n' | cut -c1-160)"
  if ((info_rc != 0)); then
    row 1-engine-info "$( ((DRY)) && echo SKIP || echo FAIL)" "exit $info_rc" "coldint engine-info --json failed (see gpucheck.log)"
  elif ((DRY)); then
    row 1-engine-info SKIP "$short" "dry run: CUDA not expected"
  elif [[ "$cuda" == yes ]]; then
    row 1-engine-info PASS "$short" "CUDA compiled in"
  else
    row 1-engine-info FAIL "$short" "engine-info does not report CUDA ($cuda)"
  fi
fi

step parity 90 20
step evalbench 90 30
step trainbench 90 30
step slices 120 40
((DRY)) || rm -rf "$GPUCHECK_WORK/big-7b"
step badinput 60 20
summary
