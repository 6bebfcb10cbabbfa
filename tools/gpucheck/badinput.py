"""Stage 6 of the GPU check: bad input that needs a GPU.

  6-too-large   a one-layer model whose layer (1.7 GB in bf16) cannot fit in
                the ~1 GB that another process leaves free: coldint eval must
                exit with an error that says so (no crash, no hang).
  6-oom-sample  a small model with a 256k vocabulary and ~3 GB free: a
                16k-token sample needs many GiB of logits and runs out of
                memory; that sample's loss must be +Inf and the samples
                around it must still be scored (exit 0).

Another process (gpucheck.py hog) holds the rest of the GPU's memory with
plain allocations while coldint runs; it is killed afterwards.
"""
import math
import os
import re
import signal
import subprocess
import sys
import time

import torch

from checks import eval_flags
from common import HERE, coldint, last_line, log, parse_losses, record, settings

MEMORY_WORDS = re.compile(r"memory|too large|does not fit|budget|out of", re.I)
CRASH_WORDS = re.compile(r"panic:|SIGSEGV|segmentation|core dumped|terminate called", re.I)


class Hog:
    """Holds all but leave_mib MiB of free GPU memory in a child process."""

    def __init__(self, leave_mib):
        self.leave_mib = leave_mib

    def __enter__(self):
        s = settings()
        ready = s.path("hog.ready")
        if os.path.exists(ready):
            os.remove(ready)
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "gpucheck.py"), "hog", "--leave-mib",
                                   str(self.leave_mib), "--ready", ready], start_new_session=True)
        t0 = time.time()
        while not os.path.exists(ready):
            if self.p.poll() is not None or time.time() - t0 > 60:
                self.__exit__()
                raise RuntimeError("the memory hog did not start (exit %s)" % self.p.returncode)
            time.sleep(0.2)
        free = int(open(ready).read() or 0)
        log("hog holds the GPU; %d MiB free" % (free >> 20))
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()


def too_large():
    s = settings()
    mdir = s.path("widelayer")
    if not os.path.exists(mdir):
        record("6-too-large", "FAIL", "", "clear error", "no wide-layer model (prep-bad failed)")
        return
    leave = int(os.environ.get("GPUCHECK_TOOLARGE_LEAVE_MIB", "1536"))
    with Hog(leave):
        rc, out, err, dt = coldint(["eval", "--model", mdir, "--data", s.path("small.jsonl"), "--json"]
                                   + eval_flags("bf16"), 120)
    msg = last_line(err)
    crashed = rc < 0 or rc >= 124 or CRASH_WORDS.search(err or "")
    ok = rc != 0 and not crashed and MEMORY_WORDS.search(msg or "")
    why = "exit %d in %.0f s" % (rc, dt)
    if rc == 0:
        why += ": it evaluated a model it cannot hold (losses %s)" % [l for l, _ in parse_losses(out)]
    record("6-too-large", "PASS" if ok else "FAIL", (msg or "(no message)")[:120], "clear error, no crash",
           why + "; 1-layer model, 1.7 GB layer, %d MiB left free" % leave, stderr_tail=(err or "")[-2000:])


def oom_sample():
    s = settings()
    mdir = s.path("widevocab")
    if not os.path.exists(mdir):
        record("6-oom-sample", "FAIL", "", "+Inf, run continues", "no wide-vocabulary model (prep-bad failed)")
        return
    leave = int(os.environ.get("GPUCHECK_OOM_LEAVE_MIB", "4096"))
    with Hog(leave):
        rc, out, err, dt = coldint(["eval", "--model", mdir, "--data", s.path("oom.jsonl"), "--json"]
                                   + eval_flags("bf16"), 120)
    losses = [l for l, _ in parse_losses(out)]
    value = "exit %d, losses %s" % (rc, ["%.4g" % l for l in losses])
    if rc == 0 and len(losses) == 3 and all(math.isfinite(x) for x in losses):
        record("6-oom-sample", "SKIP", value, "+Inf, run continues",
               "no OOM provoked: the 16k-token sample fit in %d MiB" % leave)
        return
    ok = (rc == 0 and len(losses) == 3 and math.isinf(losses[1]) and losses[1] > 0
          and math.isfinite(losses[0]) and math.isfinite(losses[2]))
    record("6-oom-sample", "PASS" if ok else "FAIL", value, "+Inf, run continues",
           "256k vocab, samples of 64/16384/64 tokens, %d MiB left free; %s" % (leave, last_line(err)[:100]),
           stderr_tail=(err or "")[-2000:])


def run():
    s = settings()
    if s.dry or not torch.cuda.is_available():
        for c, m in (("6-too-large", "clear error, no crash"), ("6-oom-sample", "+Inf, run continues")):
            record(c, "SKIP", "", m, "needs a GPU (dry run)" if s.dry else "no CUDA device visible to PyTorch")
        return
    for fn in (too_large, oom_sample):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - one check failing must not stop the other
            record("6-" + fn.__name__.replace("_", "-"), "FAIL", "", "", "%s: %s" % (type(e).__name__, e))
