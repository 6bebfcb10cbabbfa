"""Stages 2 to 5 of the GPU check (stage 6 is in badinput.py): each runs
bin/coldint, compares with the reference and appends PASS/FAIL/SKIP rows."""
import json
import math
import os
import shutil
import signal
import subprocess
import threading

import models
import refs
from common import (coldint, coldint_env, coldint_knows, fmt, last_line, load_json, log, median, parse_losses,
                    record, rel_err, save_json, settings, time_left)

# The check-name prefix of each step's rows (run.sh writes a FAIL row with it
# when a step dies without writing one).
PREFIX = {"parity": "2-parity-", "evalbench": "3-eval-", "trainbench": "4-train-", "slices": "5-sliced-7b",
          "badinput": "6-", "prep-parity": "prep-parity", "prep-bench": "prep-bench", "prep-big": "prep-big",
          "prep-bad": "prep-bad", "env": "0-env"}
# The name of the row for a step that fails as a whole.
ROW = dict(PREFIX, parity="2-parity", evalbench="3-eval", trainbench="4-train", badinput="6-bad-input")

F32_MARK, BF16_MARK = 1e-5, 5e-3


class Missing(Exception):
    """A prerequisite is absent: the check is skipped with this reason."""


def eval_flags(dtype):
    """--device/--dtype for coldint eval. On the GPU both flags are needed;
    the dry run drops a flag today's coldint does not have yet (f32 only)."""
    s, f = settings(), []
    if coldint_knows("eval", "device"):
        f += ["--device", s.device]
    elif not s.dry:
        raise Missing("coldint eval has no --device flag")
    if coldint_knows("eval", "dtype"):
        f += ["--dtype", dtype]
    elif dtype != "f32" or not s.dry:
        raise Missing("coldint eval has no --dtype flag")
    return f


def eval_losses(model_dir, data, dtype, extra=(), timeout=300):
    """coldint eval --json: ([losses], [tokens], seconds, stderr). Raises on a
    failed run. GPUCHECK_PERTURB_REL scales the losses (the negative control)."""
    args = list(extra) + ["eval", "--model", model_dir, "--data", data, "--json"] + eval_flags(dtype)
    rc, out, err, dt = coldint(args, timeout)
    if rc != 0:
        raise RuntimeError("coldint eval exit %d: %s" % (rc, last_line(err)))
    got = parse_losses(out)
    p = settings().perturb
    return [l * (1 + p) for l, _ in got], [n for _, n in got], dt, err


def bench_dtype():
    """bf16 on the GPU; f32 in the dry run (today's CPU engine computes in f32
    and may not know --dtype)."""
    return "f32" if settings().dry else "bf16"


def _worst(rows):
    """rows: [(err, where)] -> (err, where) of the largest error."""
    return max(rows, key=lambda r: (math.isnan(r[0]), r[0])) if rows else (math.nan, "")


def parity():
    s = settings()
    if not os.path.exists(s.path("parity_ref.json")):
        raise Missing("no reference losses (prep-parity failed)")
    ref = load_json("parity_ref.json")
    data = s.path("parity.jsonl")
    lengths = ref["lengths"]
    details = {}
    for dtype, mark in (("f32", F32_MARK), ("bf16", BF16_MARK)):
        check = "2-parity-" + dtype
        errs, gaps = [], []
        try:
            for name, m in ref["models"].items():
                got, toks, _, _ = eval_losses(m["dir"], data, dtype)
                if toks != lengths:
                    raise RuntimeError("%s: coldint counted tokens %s, samples have %s" % (name, toks, lengths))
                details.setdefault(name, {})["coldint_" + dtype] = got
                for impl, by in m["ref"].items():
                    for i, (g, w) in enumerate(zip(got, by[dtype])):
                        errs.append((rel_err(g, w), "%s sample %d (%d tok) vs %s" % (name, i, lengths[i], impl)))
                first = m["ref"][ref["impls"][0]]
                gaps += [rel_err(b, f) for b, f in zip(first["bf16"], first["f32"])]
        except Missing as e:
            record(check, "SKIP", "", "<= %g" % mark, str(e))
            continue
        err, where = _worst(errs)
        gap = max(gaps) if gaps else math.nan
        ok = err <= mark
        record(check, "PASS" if ok else "FAIL", "worst rel err %s (%s)" % (fmt(err), where), "<= %g" % mark,
               "reference %s; its own bf16-vs-f32 gap %s" % ("/".join(ref["impls"]), fmt(gap)),
               models=list(ref["models"]), samples=lengths, worst=err, ref_bf16_f32_gap=gap)
    save_json("parity_coldint.json", details)


def _eval_seconds(model_dir, dtype):
    """coldint's seconds per bench sample: (whole file - first sample only) /
    (samples - 1), so process start, load and warm-up cancel out. The short
    run is timed twice and the faster one counts (it also warms the page
    cache for the long run)."""
    s = settings()
    t_one = min(eval_losses(model_dir, s.path("warm.jsonl"), dtype, timeout=60)[2] for _ in range(2))
    left = max(20, int(time_left() - 5))
    losses, _, t_all, _ = eval_losses(model_dir, s.path("bench.jsonl"), dtype, timeout=left)
    k = len(losses) - 1
    if k < 1 or t_all <= t_one:
        raise RuntimeError("timing difference %.2f s - %.2f s over %d samples is not usable" % (t_all, t_one, k))
    return (t_all - t_one) / k, losses[0], t_one, t_all


def _bench():
    if not os.path.exists(settings().path("bench.json")):
        raise Missing("no 1.1B bench model (prep-bench failed)")
    return load_json("bench.json")


def evalbench():
    """Transformers first (its numbers are kept if coldint then fails), then
    coldint, timed by difference."""
    s = settings()
    b = _bench()
    env = load_json("env.json") if os.path.exists(s.path("env.json")) else {}
    mdir, seq, dtype = s.path("bench-1b"), b["seq"], bench_dtype()
    ids0 = json.loads(open(s.path("bench.jsonl")).readline())["ids"]
    impls = ["sdpa", "eager"] if (refs.transformers_version() and not s.dry) else ["torchref"]
    theirs = {}
    for impl in impls:
        if impl == "eager" and time_left() < 75:
            log("eager eval bench skipped: %.0f s left" % time_left())
            continue
        theirs[impl] = refs.eval_speed(mdir, ids0, impl, s.device, dtype, reps=3 if s.dry else 10)
    others = ", ".join("%s %.0f tok/s" % (k, v["tokens_per_s"]) for k, v in theirs.items())
    try:
        per, loss0, t_one, t_all = _eval_seconds(mdir, dtype)
    except Exception as e:  # noqa: BLE001 - keep the reference numbers in the row
        record("3-eval-vs-sdpa", "FAIL", "coldint: %s" % e, ">= 1.2x sdpa", others, ref=theirs)
        return
    ours = seq / per
    flops = models.forward_flops(b["shape"], seq)
    peak = env.get("peak_bf16_tflops") or env.get("matmul_bf16_tflops")
    mfu = flops * ours / seq / (peak * 1e12) if peak else math.nan
    base = theirs[impls[0]]
    ratio = ours / base["tokens_per_s"]
    lerr = rel_err(loss0, base["loss"])
    det = dict(coldint_tokens_per_s=ours, coldint_seconds=[t_one, t_all], ref=theirs, flops_per_seq=flops,
               peak_tflops=peak, mfu=mfu, params=b["params"], seq=seq, samples=b["samples"])
    if s.dry:
        why = "dry run: CPU timings of a tiny model are not the measure"
        record("3-eval-vs-sdpa", "SKIP", "coldint %.0f tok/s vs %s (%.2fx)" % (ours, others, ratio), ">= 1.2x sdpa", why, **det)
        record("3-eval-mfu", "SKIP", "-", ">= 50%", why)
    else:
        record("3-eval-vs-sdpa", "PASS" if ratio >= 1.2 else "FAIL", "%.2fx: coldint %.0f tok/s, %s" % (ratio, ours, others),
               ">= 1.2x sdpa", "1.1B LLaMA, seq %d, batch 1, bf16, %d samples" % (seq, b["samples"]), **det)
        record("3-eval-mfu", "PASS" if mfu >= 0.5 else "FAIL", "%.1f%% of %.0f TFLOP/s" % (100 * mfu, peak), ">= 50%",
               "%s; measured matmul %s TFLOP/s" % (env.get("peak_source"), fmt(env.get("matmul_bf16_tflops"), ".0f")))
    record("3-eval-long-loss", "PASS" if lerr <= BF16_MARK else "FAIL", "rel err %s on %d tokens" % (fmt(lerr), seq),
           "<= %g" % BF16_MARK, "coldint vs %s in %s, first bench sample" % (impls[0], dtype))


def _train_coldint(mdir, corpus, seq, steps, timeout, extra=()):
    """Runs coldint mine train, reads its JSON step logs and kills it once the
    last step is logged (its final checkpoint and save are not timed), or
    after timeout seconds. Returns [tokens_per_s per step]."""
    return _train_log(mdir, corpus, seq, steps, timeout, extra)[0]


def _train_log(mdir, corpus, seq, steps, timeout, extra=()):
    """_train_coldint's run: ([tokens_per_s per step], [loss per step])."""
    s = settings()
    run = s.path("train-run")
    shutil.rmtree(run, ignore_errors=True)
    args = [s.coldint, "--log-format", "json", "--log-level", "info", "mine", "train", "--init", mdir,
            "--data", corpus, "--out", run, "--steps", str(steps), "--batch", "1", "--accum", "1",
            "--seq-len", str(seq), "--warmup", "1", "--eval-docs", "2", "--eval-rows", "1", "--eval-every", "0",
            "--checkpoint-every", "0", "--log-every", "1", "--lr", "1e-4", "--clip", "1"] + s.train_flags + list(extra)
    log("run:", " ".join(args))
    p = subprocess.Popen(args, env=coldint_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    kill = lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL)  # noqa: E731
    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    rates, losses, tail = {}, {}, []
    try:
        for ln in p.stderr:
            tail = (tail + [ln.rstrip()])[-20:]
            rec = _json_or_none(ln)
            if rec and rec.get("msg") == "step" and "tokens_per_s" in rec:
                rates[int(rec["step"])] = float(rec["tokens_per_s"])
                losses[int(rec["step"])] = float(rec.get("loss", "nan"))
                if int(rec["step"]) >= steps:
                    break
    finally:
        watchdog.cancel()
        kill()
        p.wait()
    log("coldint train stderr (last lines):\n  " + "\n  ".join(tail[-8:]))
    if len(rates) < steps:
        raise RuntimeError("coldint mine train logged %d of %d steps: %s" % (len(rates), steps, tail[-1] if tail else ""))
    shutil.rmtree(run, ignore_errors=True)
    return [rates[k] for k in sorted(rates)], [losses[k] for k in sorted(losses)]


def _json_or_none(ln):
    ln = ln.strip()
    if not ln.startswith("{"):
        return None
    try:
        return json.loads(ln)
    except ValueError:
        return None


def trainbench():
    s = settings()
    b = _bench()
    seq, steps = b["seq"], (4 if s.dry else 10)
    rates = _train_coldint(s.path("bench-1b"), s.path("corpus.jsonl"), seq, steps, timeout=max(30, time_left() - 60))
    ours = median(rates[2:])  # the first two steps warm up
    ref = refs.train_speed(s.path("bench-1b"), 1, seq, 2 if s.dry else 6, s.device)
    ratio = ours / ref["tokens_per_s"]
    value = "%.2fx: coldint %.0f tok/s, pytorch %.0f tok/s" % (ratio, ours, ref["tokens_per_s"])
    det = dict(coldint_step_rates=rates, ref=ref, flags=s.train_flags)
    if s.dry:
        record("4-train-vs-pytorch", "SKIP", value, ">= 1.0x", "dry run: CPU timings of a tiny model are not the measure", **det)
        ddp_one_rank()
        return
    record("4-train-vs-pytorch", "PASS" if ratio >= 1.0 else "FAIL", value, ">= 1.0x",
           "1.1B, batch 1 x seq %d, AdamW; pytorch: f32 master, autocast bf16, fused AdamW, sdpa" % seq, **det)
    ddp_one_rank()


def ddp_one_rank():
    """The data-parallel trainer at world size 1 (mine train --nproc 1: NCCL on
    the GPU, gloo in the dry run) against the same run without a process
    group: the all-reduce of one rank is the identity, so the step losses must
    match."""
    s = settings()
    if time_left() < 90:
        record("4-train-ddp-1rank", "SKIP", "-", "same losses", "not enough time left")
        return
    b = _bench()
    seq = min(b["seq"], 256)
    mdir, corpus = s.path("bench-1b"), s.path("corpus.jsonl")
    _, plain = _train_log(mdir, corpus, seq, 3, timeout=60)
    _, ddp = _train_log(mdir, corpus, seq, 3, timeout=60, extra=("--nproc", "1"))
    worst = max(rel_err(a, b) for a, b in zip(ddp, plain))
    backend = "gloo (dry run)" if s.dry else "NCCL"
    record("4-train-ddp-1rank", "PASS" if len(ddp) == len(plain) == 3 and worst <= 1e-3 else "FAIL",
           "worst rel loss diff %s over 3 steps" % fmt(worst), "<= 1e-3 (losses logged to 4 decimals)",
           "mine train --nproc 1 through %s vs no process group" % backend, plain=plain, ddp=ddp)


def _slice_count(stderr):
    """Distinct layer ranges in coldint's debug "slice loaded" log lines."""
    ranges = set()
    for ln in stderr.splitlines():
        rec = _json_or_none(ln)
        if rec and rec.get("msg") == "slice loaded":
            ranges.add(json.dumps(rec.get("layers")))
    return len(ranges)


def slices():
    s = settings()
    if not os.path.exists(s.path("big.json")):
        raise Missing("no 7B-shaped model (prep-big failed)")
    big = load_json("big.json")
    mdir, data = s.path("big-7b"), s.path("big.jsonl")
    unit = s.slice_unit or (2 if bench_dtype() == "bf16" else 4)
    budget = models.budget_for_slices(big["shape"], 4, unit)
    whole, _, t_whole, _ = eval_losses(mdir, data, bench_dtype(), timeout=240)
    sliced, t_sliced, err = _sliced(mdir, data, budget)
    n = _slice_count(err)
    worst = max(rel_err(a, b) for a, b in zip(sliced, whole))
    same = all(a == b for a, b in zip(sliced, whole))
    ok = len(whole) == len(sliced) and worst <= 1e-6 and n != 1
    count = "%d slices" % n if n else "slice count not logged"
    record("5-sliced-7b", "PASS" if ok else "FAIL",
           ("bit-identical" if same else "worst rel err %s" % fmt(worst)) + ", %s" % count, "<= 1e-6, 4 slices",
           "%.1f GB of bf16 weights; --max-memory %d; whole %.0f s, sliced %.0f s" % (big["bytes"] / 1e9, budget, t_whole, t_sliced),
           whole=whole, sliced=sliced, slices=n, budget=budget)


def _sliced(mdir, data, budget):
    """coldint eval with --max-memory budget and debug JSON logs (which name
    each slice loaded): (losses, seconds, stderr)."""
    args = ["--log-format", "json", "--log-level", "debug", "eval", "--model", mdir, "--data", data, "--json", "--max-memory", str(budget)] + eval_flags(bench_dtype())
    rc, out, err, dt = coldint(args, 300)
    if rc != 0:
        raise RuntimeError("coldint eval --max-memory %d exit %d: %s" % (budget, rc, last_line(err)))
    p = settings().perturb
    return [l * (1 + p) for l, _ in parse_losses(out)], dt, err


def badinput():
    import badinput as bad
    bad.run()
