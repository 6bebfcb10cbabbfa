#!/usr/bin/env python3
"""PyTorch DistributedDataParallel reference for coldint's data-parallel
trainer (model/train_ddp.go).

  ddp_ref.py --model DIR --batch FILE.json --out FILE.json --port P
             [--steps K --threads N --lr X --weight-decay X --beta1 X
              --beta2 X --eps X --clip X]

The batch file is a JSON list with one batch per rank, each
{"Rows": R, "SeqLen": T, "IDs": [...], "Labels": [...]} (row-major, label
-100 = not scored). It starts one process per batch (torch.multiprocessing)
in a Gloo group on 127.0.0.1:P; every rank wraps train_ref.py's float32
model in torch.nn.parallel.DistributedDataParallel and runs K steps on its
own batch: the loss sum(cross-entropy) / scored tokens, backward (DDP
averages the gradients), global norm clipping to --clip and
torch.optim.AdamW (weight decay on matrices only). Rank 0 writes the weights
after the last step as {name: [floats]} to --out.

Run it with Debian's /usr/bin/python3 and python3-torch (1.13).
"""
import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchref  # noqa: E402
import train_ref  # noqa: E402


class Wrapped(torch.nn.Module):
    """An nn.Module over train_ref's functional model: its parameters are the
    model's leaves, put back into model.w before every forward."""

    def __init__(self, model, params):
        super().__init__()
        self.model = model
        self.names = sorted(params)
        self.p = torch.nn.ParameterList([torch.nn.Parameter(params[k].detach().clone()) for k in self.names])
        self.keys = {}  # id of the original leaf -> index in self.p
        for i, k in enumerate(self.names):
            self.keys[id(params[k])] = i
        self.slots = {k: self.keys[id(v)] for k, v in model.w.items()}

    def forward(self, ids, labels):
        self.model.w = {k: self.p[i] for k, i in self.slots.items()}
        return train_ref.loss_of(self.model, ids, labels)


def rank_main(rank, args, batches):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    torchref.set_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=len(batches))
    model, params = train_ref.trainable(args.model)
    net = torch.nn.parallel.DistributedDataParallel(Wrapped(model, params))
    named = {k: net.module.p[i] for i, k in enumerate(net.module.names)}
    opt = train_ref.optimizer(named, args)
    b = batches[rank]
    ids = torch.tensor(b["IDs"], dtype=torch.long).view(b["Rows"], b["SeqLen"])
    labels = torch.tensor(b["Labels"], dtype=torch.long).view(b["Rows"], b["SeqLen"])
    for _ in range(args.steps):
        loss = net(ids, labels)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(list(named.values()), args.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    if rank == 0:
        out = {k: v.detach().reshape(-1).tolist() for k, v in named.items()}
        with open(args.out + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(args.out + ".tmp", args.out)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.95)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--clip", type=float, default=1.0)
    args = ap.parse_args()
    with open(args.batch) as f:
        batches = json.load(f)
    mp.spawn(rank_main, args=(args, batches), nprocs=len(batches), join=True)


if __name__ == "__main__":
    main()
