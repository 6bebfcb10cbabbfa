#!/usr/bin/env python3
"""Steps of the GPU check; run.sh calls one per process, under its time guard.

  env          GPU, PyTorch and transformers versions, peak rates -> env.json
  prep-parity  small LLaMA/Phi-3 models, samples, reference losses
  prep-bench   the ~1B LLaMA (with a byte tokenizer), eval samples, corpus
  prep-big     the 7B-shaped LLaMA and its samples
  prep-bad     a one-layer model with a 1.7 GB layer, a small model with a
               256k vocabulary, and their samples (stage 6)
  parity       2: coldint eval vs the reference, f32 and bf16
  evalbench    3: eval tokens/s vs transformers sdpa/eager, MFU
  trainbench   4: training tokens/s vs PyTorch eager
  slices       5: the 7B whole vs in 4 slices
  badinput     6: too large even sliced; CUDA OOM inside a sample
  hog          holds all but --leave-mib of GPU memory until killed

Each step appends its result rows to $GPUCHECK_OUT/results.jsonl; summary.py
prints the table.
"""
import json
import os
import signal
import subprocess
import sys
import time

import torch

import checks
import models
import refs
from common import log, record, save_json, settings, time_left


def drop(name):
    """Removes a step's output first, so a failed step leaves nothing stale."""
    if os.path.exists(settings().path(name)):
        os.remove(settings().path(name))


def step_env():
    s = settings()
    drop('env.json')
    env = {"dry_run": s.dry, "torch": torch.__version__, "cuda": torch.cuda.is_available(),
           "transformers": refs.transformers_version(), "python": sys.version.split()[0]}
    if env["cuda"]:
        p = torch.cuda.get_device_properties(0)
        env.update(gpu=smi_name() or torch.cuda.get_device_name(0), gpu_mem_bytes=p.total_memory,
                   sms=p.multi_processor_count, torch_cuda=torch.version.cuda)
        env["peak_bf16_tflops"], env["peak_source"] = peak_tflops(env["gpu"])
        env["matmul_bf16_tflops"] = refs.matmul_tflops("cuda")
    else:
        env["gpu"] = "none (CPU dry run)" if s.dry else "none"
    save_json("env.json", env)
    with open(os.path.join(s.out, "env.txt"), "a") as f:
        f.write(json.dumps(env, indent=1) + "\n")
    log("env:", json.dumps(env))


def smi_name():
    """The first GPU's name as nvidia-smi prints it, or None."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0].strip() if out.strip() else None


# Dense bf16 tensor-core peaks from NVIDIA's datasheets (TFLOP/s, no sparsity).
PEAKS = [("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200 NVL", 835.0), ("H100", 989.0), ("H200", 989.0),
         ("GH200", 989.0), ("A100", 312.0)]


def peak_tflops(name):
    for key, v in PEAKS:
        if key.lower() in name.lower():
            return v, "datasheet (%s)" % key
    return None, "unknown card: MFU is taken against the measured matmul rate"


def step_prep_parity():
    s = settings()
    drop('parity_ref.json')
    shapes = models.PARITY_DRY if s.dry else models.PARITY
    lengths = models.PARITY_LENGTHS_DRY if s.dry else models.PARITY_LENGTHS
    dev = "cpu" if s.dry else "cuda"
    vocab = min(sh["vocab"] for sh in shapes.values())
    models.write_samples(s.path("parity.jsonl"), lengths, vocab, seed=11)
    samples = [json.loads(ln)["ids"] for ln in open(s.path("parity.jsonl"))]
    impls = ["sdpa", "eager"] if (refs.transformers_version() and torch.cuda.is_available()) else ["torchref"]
    if impls == ["torchref"]:
        log("reference: tools/torchref (transformers %s, CUDA %s)" % (
            "missing" if not refs.transformers_version() else "present", torch.cuda.is_available()))
    if dev == "cuda":
        refs.strict_f32()
    out = {"impls": impls, "lengths": lengths, "models": {}}
    for i, (name, shape) in enumerate(shapes.items()):
        d = s.path("parity", name)
        models.write_model(d, shape, seed=100 + i, device=dev)
        out["models"][name] = {"dir": d, "ref": {}}
        for impl in impls:
            out["models"][name]["ref"][impl] = {dt: refs.losses(d, samples, dt, impl, dev) for dt in ("f32", "bf16")}
        log("reference losses of %s: %s" % (name, out["models"][name]["ref"][impls[0]]["f32"]))
    save_json("parity_ref.json", out)


def step_prep_bench():
    s = settings()
    drop('bench.json')
    shape = models.BENCH_DRY if s.dry else models.BENCH
    seq = 128 if s.dry else 4096
    k = int(os.environ.get("GPUCHECK_EVAL_SAMPLES", "32" if s.dry else "128"))
    t0 = time.time()
    models.write_model(s.path("bench-1b"), shape, seed=7, device="cpu" if s.dry else "cuda", tokenizer=True)
    models.write_samples(s.path("bench.jsonl"), [seq] * (k + 1), shape["vocab"], seed=21)
    with open(s.path("bench.jsonl")) as f, open(s.path("warm.jsonl"), "w") as w:
        w.write(f.readline())
    models.write_corpus(s.path("corpus.jsonl"), docs=40, chars=(2 * seq if s.dry else 16384), seed=3)
    save_json("bench.json", {"shape": shape, "seq": seq, "samples": k, "params": models.param_count(shape)})
    log("bench model and data in %.1f s" % (time.time() - t0))


def step_prep_big():
    s = settings()
    drop('big.json')
    shape = models.BIG_DRY if s.dry else models.BIG
    t0 = time.time()
    n = models.write_model(s.path("big-7b"), shape, seed=9, device="cpu" if s.dry else "cuda")
    models.write_samples(s.path("big.jsonl"), [64, 30] if s.dry else [512, 300, 64], shape["vocab"], seed=31)
    save_json("big.json", {"shape": shape, "bytes": n})
    log("7B-shaped model (%.2f GB) in %.1f s" % (n / 1e9, time.time() - t0))


def step_prep_bad():
    s = settings()
    if s.dry:
        return
    models.write_model(s.path("widelayer"), models.WIDELAYER, seed=12, device="cuda")
    models.write_samples(s.path("small.jsonl"), [32, 16], models.WIDELAYER["vocab"], seed=42)
    models.write_model(s.path("widevocab"), models.WIDEVOCAB, seed=13, device="cuda")
    models.write_samples(s.path("oom.jsonl"), [64, 16384, 64], models.WIDEVOCAB["vocab"], seed=41)


def step_hog():
    """Holds all but --leave-mib MiB of the GPU's free memory (plain device
    allocations, in 1 GiB pieces), writes --ready, and sleeps until killed."""
    leave = int(sys.argv[sys.argv.index("--leave-mib") + 1]) << 20
    ready = sys.argv[sys.argv.index("--ready") + 1]
    held = []
    free, _ = torch.cuda.mem_get_info()
    while free > leave + (1 << 20):
        n = min(1 << 30, free - leave)
        held.append(torch.empty(n, dtype=torch.uint8, device="cuda"))
        free, _ = torch.cuda.mem_get_info()
    with open(ready + ".tmp", "w") as f:
        f.write(str(free))
    os.replace(ready + ".tmp", ready)
    while True:
        time.sleep(60)


STEPS = {
    "env": step_env, "prep-parity": step_prep_parity, "prep-bench": step_prep_bench, "prep-big": step_prep_big,
    "prep-bad": step_prep_bad, "hog": step_hog, "parity": checks.parity, "evalbench": checks.evalbench,
    "trainbench": checks.trainbench, "slices": checks.slices, "badinput": checks.badinput,
}


def main():
    # run.sh's timeout sends SIGTERM: exit through the finally blocks, which
    # kill the children this step started (coldint, the memory hog).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) < 2 or sys.argv[1] not in STEPS:
        sys.exit("usage: gpucheck.py STEP (one of: %s)" % ", ".join(STEPS))
    name = sys.argv[1]
    t0 = time.time()
    row = checks.ROW.get(name, name)
    try:
        STEPS[name]()
    except checks.Missing as e:
        # A missing prerequisite only skips in the dry run; on the GPU the
        # check cannot pass without it.
        record(row, "SKIP" if settings().dry else "FAIL", "", "", str(e))
        sys.exit(0 if settings().dry else 1)
    except Exception as e:  # noqa: BLE001 - any failure becomes a FAIL row
        import traceback
        traceback.print_exc()
        record(row, "FAIL", "", "", "%s: %s" % (type(e).__name__, e))
        sys.exit(1)
    log("step %s done in %.1f s (%.0f s left)" % (name, time.time() - t0, time_left()))


if __name__ == "__main__":
    main()
