"""Shared plumbing of the GPU check: settings from run.sh's environment, the
results file, running coldint, and small numeric helpers."""
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Settings:
    """What run.sh exports (GPUCHECK_*), with defaults for a direct call."""

    def __init__(self):
        env = os.environ
        self.dry = env.get("GPUCHECK_DRY_RUN", "") == "1"
        self.out = env.get("GPUCHECK_OUT") or os.path.join(ROOT, ".build", "gpucheck", "out")
        self.work = env.get("GPUCHECK_WORK") or os.path.join(ROOT, ".build", "gpucheck", "work")
        self.coldint = env.get("GPUCHECK_COLDINT") or os.path.join(ROOT, "bin", "coldint")
        self.coldint_ld = env.get("GPUCHECK_COLDINT_LD", "")
        self.device = "cpu" if self.dry else "cuda"
        self.perturb = float(env.get("GPUCHECK_PERTURB_REL", "0") or 0)
        self.train_flags = env.get("GPUCHECK_TRAIN_FLAGS", "--device cuda" if not self.dry else "").split()
        # bytes per parameter that --max-memory counts: the compute dtype's
        # (bf16 on CUDA, f32 in the dry run); 0 picks it from the dtype
        self.slice_unit = int(env.get("GPUCHECK_SLICE_UNIT_BYTES", "0"))
        self.deadline = float(env.get("GPUCHECK_DEADLINE", "0") or 0)
        os.makedirs(self.out, exist_ok=True)
        os.makedirs(self.work, exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)


S = None


def settings():
    global S
    if S is None:
        S = Settings()
    return S


def time_left():
    """Seconds until run.sh's global deadline (a large number without one)."""
    d = settings().deadline
    return d - time.time() if d else 1e9


def log(*args):
    print("gpucheck:", *args, file=sys.stderr, flush=True)


def record(check, status, value="", mark="", note="", **details):
    """Appends one result row to results.jsonl. status: PASS, FAIL or SKIP."""
    assert status in ("PASS", "FAIL", "SKIP"), status
    row = {"check": check, "status": status, "value": value, "mark": mark, "note": note}
    if details:
        row["details"] = details
    with open(os.path.join(settings().out, "results.jsonl"), "a") as f:
        f.write(json.dumps(row, default=str) + "\n")
    log("%s %s %s %s" % (check, status, value, ("(" + note + ")") if note else ""))


def save_json(name, obj):
    p = settings().path(name)
    with open(p + ".tmp", "w") as f:
        json.dump(obj, f, default=str)
    os.replace(p + ".tmp", p)


def load_json(name):
    with open(settings().path(name)) as f:
        return json.load(f)


def have(name):
    return os.path.exists(settings().path(name))


def coldint_env():
    env = dict(os.environ)
    ld = settings().coldint_ld
    if ld:
        env["LD_LIBRARY_PATH"] = ld + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return env


def coldint(args, timeout, check=False):
    """Runs bin/coldint with args; returns (rc, stdout, stderr, seconds). The
    full command and its stderr go to the log."""
    cmd = [settings().coldint] + args
    log("run:", " ".join(cmd))
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=coldint_env(), capture_output=True, text=True, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = 124, _text(e.stdout), _text(e.stderr) + "\n(timed out after %ds)" % timeout
    dt = time.perf_counter() - t0
    tail = err.strip().splitlines()[-12:]
    if tail:
        log("stderr (last lines):\n  " + "\n  ".join(tail))
    if check and rc != 0:
        raise RuntimeError("coldint %s: exit %d: %s" % (args[0], rc, last_line(err)))
    return rc, out, err, dt


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def last_line(s):
    lines = [ln for ln in (s or "").strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


_HELP = {}


def coldint_knows(sub, flag):
    """Whether `coldint SUB --help` lists --flag (sub: "eval" or "mine train")."""
    if sub not in _HELP:
        rc, out, err, _ = coldint(sub.split() + ["--help"], 60)
        _HELP[sub] = out + err
    return ("--" + flag) in _HELP[sub]


def parse_losses(stdout):
    """coldint eval --json lines -> [(loss or inf/nan, tokens)]."""
    out = []
    for ln in stdout.splitlines():
        ln = ln.strip()
        if not ln.startswith("{"):
            continue
        r = json.loads(ln)
        loss = r["loss"]
        loss = float(loss)  # "inf" and "nan" arrive as strings
        out.append((loss, r.get("tokens")))
    return out


def rel_err(got, want):
    """|got - want| / |want| (absolute when want is 0); inf for non-finite."""
    if not (math.isfinite(got) and math.isfinite(want)):
        return 0.0 if got == want else math.inf
    if want == 0:
        return abs(got)
    return abs(got - want) / abs(want)


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def fmt(x, spec=".3g"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)
