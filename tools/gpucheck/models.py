"""Random model folders, samples and corpora for the GPU check.

Everything here needs only torch (Debian's 1.13 on the CPU, or the device's
2.x): the safetensors files are written by hand, so the dry run works
without the safetensors and transformers packages.

Weights are drawn with a fixed seed per tensor and scaled by the fan-in, so
attention is not uniform and the logits are peaked: the summed losses then
differ from n*ln(V) and an engine that gets a detail wrong shows it.
"""
import json
import math
import os
import shutil
import struct

import torch

# Shapes. "dry" shapes stand in on the CPU dry run.
PARITY = {
    "llama-gqa-tied": dict(arch="llama", layers=4, hidden=512, heads=8, kv=2, inter=1376, vocab=32000, tie=True),
    "llama-mha-untied": dict(arch="llama", layers=4, hidden=512, heads=8, kv=8, inter=1376, vocab=32000, tie=False),
    "phi3-gqa-untied": dict(arch="phi3", layers=4, hidden=512, heads=8, kv=4, inter=1376, vocab=32064, tie=False),
}
PARITY_DRY = {
    "llama-gqa-tied": dict(arch="llama", layers=2, hidden=64, heads=4, kv=2, inter=172, vocab=512, tie=True),
    "llama-mha-untied": dict(arch="llama", layers=2, hidden=64, heads=4, kv=4, inter=172, vocab=512, tie=False),
    "phi3-gqa-untied": dict(arch="phi3", layers=2, hidden=64, heads=4, kv=2, inter=172, vocab=520, tie=False),
}
# TinyLlama-1.1B's shape.
BENCH = dict(arch="llama", layers=22, hidden=2048, heads=32, kv=4, inter=5632, vocab=32000, tie=False)
BENCH_DRY = dict(arch="llama", layers=2, hidden=64, heads=4, kv=2, inter=172, vocab=512, tie=False)
# LLaMA-2-7B's shape.
BIG = dict(arch="llama", layers=32, hidden=4096, heads=32, kv=32, inter=11008, vocab=32000, tie=False)
BIG_DRY = dict(arch="llama", layers=8, hidden=64, heads=4, kv=4, inter=172, vocab=512, tie=False)
# One layer too large for ~1 GB of free GPU memory (1.7 GB in bf16).
WIDELAYER = dict(arch="llama", layers=1, hidden=4096, heads=32, kv=32, inter=65536, vocab=32000, tie=False)
# Small weights, huge vocabulary: long samples need many GiB of logits.
WIDEVOCAB = dict(arch="llama", layers=1, hidden=256, heads=4, kv=4, inter=512, vocab=256000, tie=False, max_pos=32768)

PARITY_LENGTHS = [2, 17, 128, 511, 777, 1024]
PARITY_LENGTHS_DRY = [2, 17, 64, 200]


def config_json(shape):
    """The config.json of a shape, as transformers and coldint read it."""
    arch = shape["arch"]
    cfg = {
        "architectures": ["Phi3ForCausalLM" if arch == "phi3" else "LlamaForCausalLM"],
        "model_type": arch,
        "vocab_size": shape["vocab"],
        "hidden_size": shape["hidden"],
        "intermediate_size": shape["inter"],
        "num_hidden_layers": shape["layers"],
        "num_attention_heads": shape["heads"],
        "num_key_value_heads": shape["kv"],
        "max_position_embeddings": shape.get("max_pos", 4096),
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "tie_word_embeddings": shape["tie"],
        "torch_dtype": "bfloat16",
        "bos_token_id": 1,
        "eos_token_id": 2,
        # Phi3Config defaults pad_token_id to 32000, an embedding row that a
        # smaller vocabulary does not have.
        "pad_token_id": 0,
        "attention_bias": False,
        "use_cache": False,
    }
    if arch == "phi3":
        cfg["original_max_position_embeddings"] = cfg["max_position_embeddings"]
        cfg["sliding_window"] = None
    return cfg


def tensor_specs(shape):
    """[(name, shape, std)] of a model; std None means ones (norm weights)."""
    h, v, inter = shape["hidden"], shape["vocab"], shape["inter"]
    hd = h // shape["heads"]
    q, kv = shape["heads"] * hd, shape["kv"] * hd
    out = [("model.embed_tokens.weight", [v, h], 1.0)]
    for i in range(shape["layers"]):
        p = "model.layers.%d." % i
        out.append((p + "input_layernorm.weight", [h], None))
        out.append((p + "post_attention_layernorm.weight", [h], None))
        if shape["arch"] == "phi3":
            out.append((p + "self_attn.qkv_proj.weight", [q + 2 * kv, h], 1.0 / math.sqrt(h)))
            out.append((p + "mlp.gate_up_proj.weight", [2 * inter, h], 1.0 / math.sqrt(h)))
        else:
            for n, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
                out.append((p + "self_attn.%s.weight" % n, [rows, h], 1.0 / math.sqrt(h)))
            for n in ("gate_proj", "up_proj"):
                out.append((p + "mlp.%s.weight" % n, [inter, h], 1.0 / math.sqrt(h)))
        out.append((p + "self_attn.o_proj.weight", [h, q], 0.5 / math.sqrt(q)))
        out.append((p + "mlp.down_proj.weight", [h, inter], 0.5 / math.sqrt(inter)))
    out.append(("model.norm.weight", [h], None))
    if not shape["tie"]:
        out.append(("lm_head.weight", [v, h], 3.0 / math.sqrt(h)))
    return out


def param_count(shape):
    n = 0
    for _, s, _ in tensor_specs(shape):
        n += math.prod(s)
    return n


def matmul_params_per_layer(shape):
    h, inter = shape["hidden"], shape["inter"]
    hd = h // shape["heads"]
    return h * (shape["heads"] * hd + 2 * shape["kv"] * hd) + shape["heads"] * hd * h + 3 * h * inter


def forward_flops(shape, seq):
    """Useful FLOPs of one forward over seq tokens: every projection, the LM
    head on the seq-1 scored positions and causal attention (QK^T and AV over
    the lower triangle)."""
    L, h, v = shape["layers"], shape["hidden"], shape["vocab"]
    return 2 * seq * L * matmul_params_per_layer(shape) + 2 * (seq - 1) * h * v + 2 * L * h * seq * (seq + 1)


_ST = {torch.float32: ("F32", 4), torch.bfloat16: ("BF16", 2)}


def _draw(name, shp, std, seed, index, dtype, device):
    if std is None:
        return torch.ones(shp, dtype=dtype, device=device)
    g = torch.Generator(device=device)
    g.manual_seed(seed * 1000003 + index)
    t = torch.empty(shp, dtype=torch.float32, device=device)
    t.normal_(0.0, std, generator=g)
    return t.to(dtype)


def _write_shard(path, entries):
    """entries: [(name, shape, tensor_fn)] written as one safetensors file."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shp, dtype, _ in entries:
        tag, size = _ST[dtype]
        n = math.prod(shp) * size
        header[name] = {"dtype": tag, "shape": shp, "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _, _, dtype, fn in entries:
            t = fn().contiguous().cpu()
            if dtype == torch.bfloat16:
                t = t.view(torch.int16)
            f.write(memoryview(t.numpy()).cast("B"))
    os.replace(tmp, path)


def write_model(out, shape, seed, dtype=torch.bfloat16, device="cpu", shard_bytes=4 << 30, tokenizer=False):
    """Writes a random model folder at out (replaced if present). Returns its
    weight bytes. Tensors are drawn on device (a GPU makes 7B quick)."""
    if os.path.exists(out):
        shutil.rmtree(out)
    tmpdir = out + ".part"
    if os.path.exists(tmpdir):
        shutil.rmtree(tmpdir)
    os.makedirs(tmpdir)
    size = _ST[dtype][1]
    shards, cur, cur_bytes, total = [], [], 0, 0
    for i, (name, shp, std) in enumerate(tensor_specs(shape)):
        n = math.prod(shp) * size
        if cur and cur_bytes + n > shard_bytes:
            shards.append(cur)
            cur, cur_bytes = [], 0
        fn = (lambda name=name, shp=shp, std=std, i=i: _draw(name, shp, std, seed, i, dtype, device))
        cur.append((name, shp, dtype, fn))
        cur_bytes += n
        total += n
    shards.append(cur)
    if len(shards) == 1:
        _write_shard(os.path.join(tmpdir, "model.safetensors"), shards[0])
    else:
        wmap = {}
        for k, entries in enumerate(shards):
            fname = "model-%05d-of-%05d.safetensors" % (k + 1, len(shards))
            _write_shard(os.path.join(tmpdir, fname), entries)
            for e in entries:
                wmap[e[0]] = fname
        with open(os.path.join(tmpdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f)
    cfg = config_json(shape)
    cfg["torch_dtype"] = "bfloat16" if dtype == torch.bfloat16 else "float32"
    with open(os.path.join(tmpdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if tokenizer:
        write_byte_tokenizer(tmpdir)
    os.replace(tmpdir, out)
    return total


def _byte_unicode():
    out, used = [0] * 256, [False] * 256
    for lo, hi in ((ord("!"), ord("~")), (0xA1, 0xAC), (0xAE, 0xFF)):
        for b in range(lo, hi + 1):
            out[b], used[b] = b, True
    n = 0
    for b in range(256):
        if not used[b]:
            out[b] = 256 + n
            n += 1
    return out


EOT = "<|endoftext|>"


def write_byte_tokenizer(d):
    """A byte-level BPE without merges (256 bytes + <|endoftext|> = 256), the
    tokenizer coldint's demo uses: any text encodes."""
    vocab = {chr(r): b for b, r in enumerate(_byte_unicode())}
    vocab[EOT] = 256
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": 256, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True}],
           "normalizer": None, "pre_tokenizer": bl, "post_processor": None, "decoder": bl,
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                     "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": []}}
    cfg = {"eos_token": EOT, "bos_token": EOT, "model_max_length": 1 << 20, "tokenizer_class": "GPT2Tokenizer",
           "clean_up_tokenization_spaces": False}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)


def random_ids(seed, n, vocab):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g).tolist()


def write_samples(path, lengths, vocab, seed):
    with open(path, "w") as f:
        for k, n in enumerate(lengths):
            f.write(json.dumps({"ids": random_ids(seed * 7919 + k, n, vocab)}) + "\n")


def write_corpus(path, docs, chars, seed):
    """A .jsonl of {"text": ...} documents of random lowercase words."""
    g = torch.Generator().manual_seed(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    with open(path, "w") as f:
        for _ in range(docs):
            lens = torch.randint(1, 10, (chars // 5,), generator=g).tolist()
            picks = torch.randint(0, 26, (sum(lens),), generator=g).tolist()
            words, at = [], 0
            for n in lens:
                words.append("".join(letters[p] for p in picks[at:at + n]))
                at += n
            f.write(json.dumps({"text": " ".join(words)[:chars]}) + "\n")


def plan_slices(shape, budget, unit=4):
    """Mirrors model/weights.go planSlices: greedy packing of [embed, layers,
    final] into slices whose weights (counted at unit bytes per parameter)
    fit budget. Returns the slice count."""
    h, v = shape["hidden"], shape["vocab"]
    layer = unit * (matmul_params_per_layer(shape) + 2 * h)
    embed, final = unit * v * h, unit * (h + v * h)
    total = unit * param_count(shape)
    if budget <= 0 or total <= budget:
        return 1
    n, cur = 0, embed  # cur is never empty when checked: it holds the embedding or a layer
    for _ in range(shape["layers"]):
        if cur + layer > budget:
            n, cur = n + 1, 0
        cur += layer
    if cur + final > budget:
        n, cur = n + 1, 0
    return n + 1


def _first_budget_below(shape, want, unit):
    """The smallest budget that plan_slices cuts into fewer than want slices
    (the count falls as the budget grows)."""
    lo, hi = 1, unit * param_count(shape)
    while lo < hi:
        mid = (lo + hi) // 2
        if plan_slices(shape, mid, unit) < want:
            hi = mid
        else:
            lo = mid + 1
    return lo


def budget_for_slices(shape, want, unit=4):
    """A budget in bytes in the middle of the range that plan_slices cuts
    into exactly want slices (so a few bytes of other accounting do not
    change the count), or None when no budget does."""
    upper = _first_budget_below(shape, want, unit) - 1
    lower = _first_budget_below(shape, want + 1, unit)
    mid = (lower + upper) // 2
    return mid if mid > 0 and plan_slices(shape, mid, unit) == want else None
