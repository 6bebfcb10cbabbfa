#!/usr/bin/env python3
"""PyTorch reference for coldint's engine.

It follows the math of transformers 4.44's LlamaForCausalLM and
Phi3ForCausalLM (eager attention, no cache) without importing transformers:
RMSNorm with coldint's norm_divisor, rotary embeddings with rotate_half and the
"default", "linear" and "llama3" inv_freq rules and Phi-3's longrope (with its
old names su and yarn), repeat_kv for GQA, SiLU-gated
MLP, Phi-3's fused qkv_proj / gate_up_proj and tied embeddings. Weights come
from the model directory's safetensors files, parsed here.

Commands:
  loss   --model DIR --data FILE.jsonl [--dtype f32|bf16] [--threads N]
         prints {"losses": [...], "tokens": [...]}: per sample the summed
         cross-entropy of float32 logits over predicted positions
         (coldint spec 6.7); "inf" for a sample with "valid": false.
  loss-batch [--threads N] reads [{"model": DIR, "data": FILE, "dtype": "f32"}, ...]
         on stdin and prints one loss object per job and line.
  bench  --model DIR --seq 1024 [--dtype f32|bf16] [--threads N] [--iters K]
         prints {"tokens_per_s": x, "seconds": [...]} for no-grad forwards
         plus the loss of a sequence of random ids.
  matmul [--n 1024] [--threads N] prints the best float32 n x n matmul GFLOP/s.

Run it with Debian's /usr/bin/python3 and python3-torch (1.13).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

_DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
}


def read_safetensors(path):
    """Returns {name: tensor} of one safetensors file (float dtypes only)."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: file shorter than the header length" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d beyond the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        torch_dtype, size = _DTYPES[dt]
        begin, end = info["data_offsets"]
        shape = info["shape"]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size or base + end > len(data):
            raise ValueError("%s: tensor %s has bad offsets" % (path, name))
        buf = bytearray(data[base + begin:base + end])
        if size == 2:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch_dtype) if count else torch.empty(0, dtype=torch_dtype)
        else:
            t = torch.frombuffer(buf, dtype=torch.float32) if count else torch.empty(0)
        out[name] = t.reshape(shape).clone()
    return out


def read_model_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            out.update(read_safetensors(os.path.join(model_dir, shard)))
        return out
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


class Config:
    """The config.json fields the two architectures read (transformers 4.44 defaults)."""

    def __init__(self, d):
        self.model_type = d["model_type"]
        self.vocab_size = d["vocab_size"]
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        self.rms_norm_eps = d.get("rms_norm_eps") or (1e-5 if self.model_type == "phi3" else 1e-6)
        self.rope_theta = d.get("rope_theta") or 10000.0
        self.rope_scaling = d.get("rope_scaling")
        self.max_position_embeddings = d.get("max_position_embeddings") or (4096 if self.model_type == "phi3" else 2048)
        self.original_max_position_embeddings = d.get("original_max_position_embeddings") or 4096
        self.tie_word_embeddings = d.get("tie_word_embeddings", False)
        self.norm_divisor = d.get("norm_divisor")
        self.sliding_window = d.get("sliding_window") if self.model_type == "phi3" else None
        self.head_dim = self.hidden_size // self.num_attention_heads


def rms_norm(x, weight, cfg):
    """LlamaRMSNorm / Phi3RMSNorm, with coldint's norm_divisor."""
    input_dtype = x.dtype
    h = x.to(torch.float32)
    if cfg.norm_divisor:
        variance = h.pow(2).sum(-1, keepdim=True) / cfg.norm_divisor
    else:
        variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + cfg.rms_norm_eps)
    return weight * h.to(input_dtype)


def inv_freq(cfg):
    """transformers 4.44 modeling_rope_utils: default, linear and llama3."""
    dim = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.rope_scaling
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor = rs["factor"]
        low = rs["low_freq_factor"]
        high = rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen = old / low
        high_wavelen = old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, inv_l)
    raise ValueError("rope_scaling type %r is not supported" % kind)


def longrope(cfg, seq_len):
    """transformers 4.44 Phi3LongRoPEScaledRotaryEmbedding (Phi3Config reads
    the old type names "su" and "yarn" as "longrope"): the factor list is
    chosen by max(position_ids)+1 = seq_len, and cos/sin are scaled."""
    rs = cfg.rope_scaling
    if rs.get("type") not in ("longrope", "su", "yarn"):
        raise ValueError("phi3 rope_scaling type %r is not supported" % rs.get("type"))
    if seq_len > cfg.original_max_position_embeddings:
        ext = torch.tensor(rs["long_factor"], dtype=torch.float32)
    else:
        ext = torch.tensor(rs["short_factor"], dtype=torch.float32)
    dim = cfg.head_dim
    shape = torch.arange(0, dim, 2, dtype=torch.int64).float() / dim
    inv = 1.0 / (ext * cfg.rope_theta ** shape)
    scale = cfg.max_position_embeddings / cfg.original_max_position_embeddings
    factor = 1.0 if scale <= 1.0 else math.sqrt(1 + math.log(scale) / math.log(cfg.original_max_position_embeddings))
    return inv, factor


def rotary(cfg, seq_len, dtype):
    factor = None
    if cfg.model_type == "phi3" and cfg.rope_scaling:
        inv, factor = longrope(cfg, seq_len)
    else:
        inv = inv_freq(cfg)
    position_ids = torch.arange(seq_len).unsqueeze(0)
    inv_expanded = inv[None, :, None].float().expand(1, -1, 1)
    pos_expanded = position_ids[:, None, :].float()
    freqs = (inv_expanded.float() @ pos_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    if factor is not None:
        cos, sin = cos * factor, sin * factor
    return cos.to(dtype), sin.to(dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, n_kv, slen, hd = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, n_kv, n_rep, slen, hd)
    return x.reshape(b, n_kv * n_rep, slen, hd)


class Model:
    """A causal LM of model_type llama or phi3 evaluated without grad."""

    def __init__(self, model_dir, dtype):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = Config(json.load(f))
        if self.cfg.model_type not in ("llama", "phi3"):
            raise ValueError("model_type %r is not supported" % self.cfg.model_type)
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in read_model_weights(model_dir).items()}
        if self.cfg.tie_word_embeddings or "lm_head.weight" not in self.w:
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self._rope = None

    def attention(self, i, x, cos, sin, mask):
        cfg, w = self.cfg, self.w
        p = "model.layers.%d.self_attn." % i
        b, q_len, _ = x.shape
        nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        if cfg.model_type == "phi3":
            qkv = F.linear(x, w[p + "qkv_proj.weight"])
            qp = nh * hd
            q = qkv[..., :qp]
            k = qkv[..., qp: qp + nkv * hd]
            v = qkv[..., qp + nkv * hd:]
        else:
            q = F.linear(x, w[p + "q_proj.weight"])
            k = F.linear(x, w[p + "k_proj.weight"])
            v = F.linear(x, w[p + "v_proj.weight"])
        q = q.view(b, q_len, nh, hd).transpose(1, 2)
        k = k.view(b, q_len, nkv, hd).transpose(1, 2)
        v = v.view(b, q_len, nkv, hd).transpose(1, 2)
        c, s = cos.unsqueeze(1), sin.unsqueeze(1)
        q = (q * c) + (rotate_half(q) * s)
        k = (k * c) + (rotate_half(k) * s)
        k = repeat_kv(k, nh // nkv)
        v = repeat_kv(v, nh // nkv)
        attn = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
        attn = attn + mask
        attn = F.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(attn, v)
        out = out.transpose(1, 2).contiguous().reshape(b, q_len, -1)
        return F.linear(out, w[p + "o_proj.weight"])

    def mlp(self, i, x):
        cfg, w = self.cfg, self.w
        p = "model.layers.%d.mlp." % i
        if cfg.model_type == "phi3":
            up = F.linear(x, w[p + "gate_up_proj.weight"])
            gate, up = up.chunk(2, dim=-1)
            up = up * F.silu(gate)
            return F.linear(up, w[p + "down_proj.weight"])
        return F.linear(F.silu(F.linear(x, w[p + "gate_proj.weight"])) * F.linear(x, w[p + "up_proj.weight"]),
                        w[p + "down_proj.weight"])

    def causal_mask(self, n):
        min_value = torch.finfo(self.dtype).min
        mask = torch.full((n, n), min_value, dtype=self.dtype)
        mask = torch.triu(mask, diagonal=1)
        if self.cfg.sliding_window is not None:
            # _prepare_4d_causal_attention_mask(sliding_window=w): key j is hidden from query i when i - j > w.
            far = torch.tril(torch.ones((n, n), dtype=torch.bool), diagonal=-self.cfg.sliding_window - 1)
            mask = mask.masked_fill(far, min_value)
        return mask[None, None, :, :]

    def logits(self, ids):
        cfg, w = self.cfg, self.w
        n = ids.shape[-1]
        x = F.embedding(ids, w["model.embed_tokens.weight"])
        cos, sin = rotary(cfg, n, self.dtype)
        mask = self.causal_mask(n)
        for i in range(cfg.num_hidden_layers):
            p = "model.layers.%d." % i
            h = rms_norm(x, w[p + "input_layernorm.weight"], cfg)
            x = x + self.attention(i, h, cos, sin, mask)
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg)
            x = x + self.mlp(i, h)
        x = rms_norm(x, w["model.norm.weight"], cfg)
        return F.linear(x, w["lm_head.weight"]).float()

    def loss(self, ids):
        """Summed cross-entropy over predicted positions (first token unscored)."""
        t = torch.tensor([ids], dtype=torch.long)
        logits = self.logits(t)
        shift_logits = logits[..., :-1, :].contiguous().view(-1, self.cfg.vocab_size)
        shift_labels = t[..., 1:].contiguous().view(-1)
        return F.cross_entropy(shift_logits, shift_labels, reduction="sum").item()


def parse_dtype(s):
    if s in ("f32", "float32"):
        return torch.float32
    if s in ("bf16", "bfloat16"):
        return torch.bfloat16
    raise SystemExit("unknown --dtype %r (want f32 or bf16)" % s)


def set_threads(n):
    if n > 0:
        torch.set_num_threads(n)


def losses_of(model_dir, data, dtype):
    model = Model(model_dir, parse_dtype(dtype))
    losses, tokens = [], []
    with open(data) as f:
        lines = [ln for ln in f if ln.strip()]
    with torch.no_grad():
        for ln in lines:
            rec = json.loads(ln)
            ids = rec["ids"]
            tokens.append(len(ids))
            if rec.get("valid", True) is False or len(ids) == 0:
                losses.append("inf")
                continue
            v = model.loss(ids)
            losses.append(v if math.isfinite(v) else str(v))
    return {"losses": losses, "tokens": tokens}


def cmd_loss(args):
    set_threads(args.threads)
    json.dump(losses_of(args.model, args.data, args.dtype), sys.stdout)
    sys.stdout.write("\n")


def cmd_loss_batch(args):
    """Reads a JSON list of {"model", "data", "dtype"} on stdin, prints one result per line."""
    set_threads(args.threads)
    for job in json.load(sys.stdin):
        json.dump(losses_of(job["model"], job["data"], job.get("dtype", "f32")), sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()


def cmd_bench(args):
    set_threads(args.threads)
    model = Model(args.model, parse_dtype(args.dtype))
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, model.cfg.vocab_size, (args.seq,), generator=g).tolist()
    if args.ids:
        with open(args.ids) as f:
            ids = json.loads(f.readline())["ids"]
    times, cpu, loss = [], [], None
    with torch.no_grad():
        for it in range(args.warmup + args.iters):
            t0, c0 = time.perf_counter(), time.process_time()
            loss = model.loss(ids)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if it >= args.warmup:
                times.append(dt)
                cpu.append(dc)
    best = min(times)
    json.dump({"tokens_per_s": len(ids) / best, "seconds": times, "cpu_seconds": cpu, "tokens": len(ids), "loss": loss,
               "threads": torch.get_num_threads(), "dtype": args.dtype}, sys.stdout)
    sys.stdout.write("\n")


def cmd_matmul(args):
    set_threads(args.threads)
    n = args.n
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(args.iters):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    json.dump({"gflops": 2 * n ** 3 / best / 1e9, "threads": torch.get_num_threads()}, sys.stdout)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("loss")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--dtype", default="f32")
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(fn=cmd_loss)
    p = sub.add_parser("loss-batch")
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(fn=cmd_loss_batch)
    p = sub.add_parser("bench")
    p.add_argument("--model", required=True)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--ids", help="jsonl whose first line's ids are used instead of random ids")
    p.add_argument("--dtype", default="f32")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("matmul")
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--iters", type=int, default=20)
    p.set_defaults(fn=cmd_matmul)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
