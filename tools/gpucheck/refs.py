"""The PyTorch side of the GPU check: per-sample losses and throughput of
transformers (on the device) or of tools/torchref (the dry run, where
transformers is not installed)."""
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from common import ROOT, log, median

sys.path.insert(0, os.path.join(ROOT, "tools", "torchref"))
import torchref  # noqa: E402
import train_ref  # noqa: E402

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def transformers_version():
    """The installed transformers version, or None."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers.__version__


def strict_f32():
    """float32 means float32: no TF32 in matrix products or convolutions."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def load_hf(model_dir, dtype, attn, device):
    """A transformers causal LM in eval mode on device."""
    import transformers
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    kw = {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": DTYPES[dtype], "attn_implementation": attn}
    m = transformers.AutoModelForCausalLM.from_pretrained(model_dir, **kw)
    return m.to(device).eval()


class Ref:
    """A reference model: transformers (impl "sdpa" or "eager") or torchref
    (impl "torchref"). logits(ids) returns float32 logits [1, n, vocab]."""

    def __init__(self, model_dir, dtype, impl, device):
        self.impl, self.device = impl, device
        if impl == "torchref":
            self.m = torchref.Model(model_dir, DTYPES[dtype])
        else:
            self.m = load_hf(model_dir, dtype, impl, device)

    def logits(self, ids):
        if self.impl == "torchref":
            return self.m.logits(ids)
        return self.m(input_ids=ids, use_cache=False).logits.float()

    def loss(self, ids_list):
        """Summed cross-entropy over positions 1..n-1 (float32 logits)."""
        ids = torch.tensor([ids_list], dtype=torch.long, device=self.device)
        with torch.no_grad():
            lg = self.logits(ids)
            return F.cross_entropy(lg[0, :-1].float(), ids[0, 1:], reduction="sum").item()

    def close(self):
        del self.m
        if self.device == "cuda":
            torch.cuda.empty_cache()


def losses(model_dir, samples, dtype, impl, device):
    r = Ref(model_dir, dtype, impl, device)
    try:
        return [r.loss(s) for s in samples]
    finally:
        r.close()


def _timer(device):
    if device == "cuda":
        def t():
            torch.cuda.synchronize()
            return time.perf_counter()
        return t
    return time.perf_counter


def eval_speed(model_dir, ids_list, impl, device, dtype, reps, warmup=2):
    """Tokens/s of no-grad forwards + summed loss on one sample (the median
    of reps timed runs) and that loss."""
    r = Ref(model_dir, dtype, impl, device)
    try:
        ids = torch.tensor([ids_list], dtype=torch.long, device=device)
        now, times, loss = _timer(device), [], None
        for k in range(warmup + reps):
            t0 = now()
            with torch.no_grad():
                lg = r.logits(ids)
                loss = F.cross_entropy(lg[0, :-1], ids[0, 1:], reduction="sum")
            loss = loss.item()
            if k >= warmup:
                times.append(now() - t0)
            del lg
        return {"tokens_per_s": len(ids_list) / median(times), "seconds": times, "loss": loss}
    finally:
        r.close()


def train_speed(model_dir, batch, seq, steps, device, warmup=2, lr=1e-4):
    """Training tokens/s (scored tokens B*(T-1) per median step) of PyTorch
    eager: on CUDA transformers with SDPA attention, float32 master weights,
    autocast bf16 and torch.optim.AdamW(fused=True); in the dry run torchref's
    float32 autograd model and a plain AdamW. Clipping at 1.0 as coldint."""
    cuda = device == "cuda"
    if cuda:
        model = load_hf(model_dir, "f32", "sdpa", device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        vocab = model.config.vocab_size

        def step_loss(ids):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                lg = model(input_ids=ids, use_cache=False).logits
            return F.cross_entropy(lg[:, :-1].float().reshape(-1, vocab), ids[:, 1:].reshape(-1))
    else:
        model, named = train_ref.trainable(model_dir)
        params = list(named.values())
        vocab = model.cfg.vocab_size

        def step_loss(ids):
            labels = torch.cat([ids[:, 1:], torch.full((ids.shape[0], 1), -100)], dim=1)
            return train_ref.loss_of(model, ids, labels)
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if cuda else {}))
    g = torch.Generator().manual_seed(5)
    now, times, loss = _timer(device), [], math.nan
    for k in range(warmup + steps):
        ids = torch.randint(0, vocab, (batch, seq), generator=g).to(device)
        t0 = now()
        out = step_loss(ids)
        out.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = out.item()
        if k >= warmup:
            times.append(now() - t0)
    peak = torch.cuda.max_memory_allocated() if cuda else 0
    del model, opt, params
    if cuda:
        torch.cuda.empty_cache()
    log("pytorch train: median step %.4f s, loss %.4f" % (median(times), loss))
    return {"tokens_per_s": batch * (seq - 1) / median(times), "seconds": times, "loss": loss, "peak_bytes": peak}


def matmul_tflops(device, n=8192, reps=10):
    """bf16 n^3 matrix product rate on random data (the measured ceiling)."""
    if device != "cuda":
        return None
    g = torch.Generator(device="cuda").manual_seed(3)
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16, generator=g)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16, generator=g)
    for _ in range(3):
        a @ b
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        a @ b
    e.record()
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (s.elapsed_time(e) / 1e3) / 1e12
