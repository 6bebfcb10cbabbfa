#!/usr/bin/env python3
"""PyTorch training reference for coldint's trainer (model/train*.go).

It reuses torchref.py's transformers-4.44 math (LLaMA / Phi-3) with autograd:

  grad  --model DIR --batch FILE.json --out FILE.safetensors [--threads N]
        [--lr X --weight-decay X --beta1 X --beta2 X --eps X --clip X]
        The batch file is {"rows": R, "seq_len": T, "ids": [...], "labels": [...]}
        (row-major, label -100 = not scored). Computes the loss
        sum(cross-entropy) / scored tokens, its gradients, and then one
        torch.optim.AdamW step (weight decay on matrices only) after clipping
        the global gradient norm to --clip. Writes "grad/<name>" and
        "param/<name>" (the weights after the step) as float32 safetensors and
        prints {"loss": x, "grad_norm": y} on stdout.
        --steps K repeats the step K times on the same batch: "grad/" and the
        printed loss and norm are those of the first step, "param/" the
        weights after the last, and "losses" lists every step's loss.
        --dtype bf16 trains in mixed precision: the forward and backward run
        on bfloat16 copies of the float32 weights (made afresh every step),
        the bfloat16 gradients are turned into float32 and clipping and
        AdamW update the float32 weights.
  bench --model DIR --batch B --seq T [--steps K] [--threads N]
        [--device cpu|cuda|cuda:N] [--dtype f32|bf16]
        times training steps (forward, backward, clipping, AdamW) on random
        ids and prints {"tokens_per_s": x, ...}. On CUDA the optimizer is
        torch.optim.AdamW(fused=True) and every step ends with a
        synchronisation; --dtype bf16 runs the forward and backward under
        torch.autocast(dtype=torch.bfloat16) with float32 weights.

Run it with Debian's /usr/bin/python3 and python3-torch (1.13).
"""
import argparse
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchref  # noqa: E402


def write_safetensors(path, tensors):
    """Writes {name: float32 tensor} as a safetensors file."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def trainable(model_dir):
    """A torchref.Model in float32 whose weights are leaves requiring grad."""
    model = torchref.Model(model_dir, torch.float32)
    for t in {id(v): v for v in model.w.values()}.values():
        t.requires_grad_(True)
    # Tied embeddings share one tensor: a single leaf collects both gradients.
    names = {}
    for k, v in model.w.items():
        names.setdefault(id(v), k)
    params = {names[id(v)]: v for v in model.w.values()}
    return model, params


def loss_of(model, ids, labels):
    logits = model.logits(ids)
    v = logits.shape[-1]
    total = F.cross_entropy(logits.reshape(-1, v), labels.reshape(-1), ignore_index=-100, reduction="sum")
    return total / (labels != -100).sum()


def optimizer(params, args, fused=False):
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    kw = {"fused": True} if fused else {}
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps, **kw)


def bf16_backward(model, ids, labels):
    """Forward and backward on bfloat16 copies of the float32 leaves of
    model.w; the copies' gradients become the leaves' float32 .grad."""
    masters = model.w
    copies = {}
    for v in masters.values():
        if id(v) not in copies:
            copies[id(v)] = v.detach().to(torch.bfloat16).requires_grad_(True)
    model.w = {k: copies[id(v)] for k, v in masters.items()}
    model.dtype = torch.bfloat16
    try:
        loss = loss_of(model, ids, labels)
        loss.backward()
    finally:
        model.w = masters
        model.dtype = torch.float32
    for v in masters.values():
        c = copies[id(v)]
        if c.grad is not None:
            v.grad = c.grad.float()
    return loss


def cmd_grad(args):
    torchref.set_threads(args.threads)
    with open(args.batch) as f:
        b = json.load(f)
    model, params = trainable(args.model)
    ids = torch.tensor(b["ids"], dtype=torch.long).view(b["rows"], b["seq_len"])
    labels = torch.tensor(b["labels"], dtype=torch.long).view(b["rows"], b["seq_len"])
    opt = optimizer(params, args)
    out, losses, first = {}, [], None
    for step in range(args.steps):
        if args.dtype == "bf16":
            loss = bf16_backward(model, ids, labels)
        else:
            loss = loss_of(model, ids, labels)
            loss.backward()
        if step == 0:
            out.update({"grad/" + k: p.grad.clone() for k, p in params.items()})
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), args.clip) if args.clip > 0 else \
            torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params.values()))
        if step == 0:
            first = (loss.item(), float(norm))
        losses.append(loss.item())
        opt.step()
        opt.zero_grad(set_to_none=True)
    for k, p in params.items():
        out["param/" + k] = p.detach().clone()
    write_safetensors(args.out, out)
    json.dump({"loss": first[0], "grad_norm": first[1], "losses": losses}, sys.stdout)
    sys.stdout.write("\n")


def to_device(model, dev):
    """Moves a trainable model's leaves (ties kept) and its rotary tables and
    masks to dev; returns the new {name: leaf}."""
    moved = {}
    for v in model.w.values():
        if id(v) not in moved:
            moved[id(v)] = v.detach().to(dev).requires_grad_(True)
    names = {}
    for k, v in model.w.items():
        names.setdefault(id(v), k)
    params = {names[id(v)]: moved[id(v)] for v in model.w.values()}
    model.w = {k: moved[id(v)] for k, v in model.w.items()}
    rotary, mask = torchref.rotary, model.causal_mask
    torchref.rotary = lambda cfg, n, dtype: tuple(t.to(dev) for t in rotary(cfg, n, dtype))
    model.causal_mask = lambda n: mask(n).to(dev)
    return params


def cmd_bench(args):
    torchref.set_threads(args.threads)
    dev = torch.device(args.device)
    model, params = trainable(args.model)
    if dev.type != "cpu":
        params = to_device(model, dev)
    opt = optimizer(params, args, fused=dev.type == "cuda")
    g = torch.Generator().manual_seed(1)
    vocab = model.cfg.vocab_size

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    times, cpu = [], []
    for step in range(args.warmup + args.steps):
        ids = torch.randint(0, vocab, (args.batch, args.seq), generator=g)
        labels = torch.cat([ids[:, 1:], torch.full((args.batch, 1), -100)], dim=1)
        ids, labels = ids.to(dev), labels.to(dev)
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
            loss = loss_of(model, ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if step >= args.warmup:
            times.append(dt)
            cpu.append(dc)
    tokens = args.batch * (args.seq - 1)
    json.dump({"tokens_per_s": tokens / (sum(times) / len(times)), "seconds": times, "cpu_seconds": cpu,
               "tokens_per_cpu_s": tokens / (sum(cpu) / len(cpu)),
               "threads": torch.get_num_threads(), "loss": loss.item(), "device": str(dev), "dtype": args.dtype},
              sys.stdout)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("grad", cmd_grad), ("bench", cmd_bench)):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--threads", type=int, default=0)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--weight-decay", type=float, default=0.1)
        p.add_argument("--beta1", type=float, default=0.9)
        p.add_argument("--beta2", type=float, default=0.95)
        p.add_argument("--eps", type=float, default=1e-8)
        p.add_argument("--clip", type=float, default=1.0)
        p.set_defaults(fn=fn)
        if name == "grad":
            p.add_argument("--batch", required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--steps", type=int, default=1)
            p.add_argument("--dtype", choices=("f32", "bf16"), default="f32")
        else:
            p.add_argument("--batch", type=int, default=4)
            p.add_argument("--seq", type=int, default=512)
            p.add_argument("--steps", type=int, default=3)
            p.add_argument("--warmup", type=int, default=1)
            p.add_argument("--device", default="cpu")
            p.add_argument("--dtype", choices=("f32", "bf16"), default="f32")
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
