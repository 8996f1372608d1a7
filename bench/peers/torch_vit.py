#!/usr/bin/python3
"""The PyTorch peer of `dinogpu bench model`: a ViT's inference images/s and one DINO training
step's images/s, on the CPU or a CUDA GPU, with the same model and step as dinogpu's (the ViT,
head, loss, clipping, AdamW, EMA and centering of tools/dino_reference.py, which mirrors dinogpu's
small DINO). Random weights and random images: speed only. Not used by the tests.

  /usr/bin/python3 bench/peers/torch_vit.py --device cpu --threads 2
  python3 bench/peers/torch_vit.py --device cuda --amp   # bf16 autocast, what a GPU user runs

Prints one JSON line per measurement: {"peer": "torch", "what": "inference"|"train", ...,
"images_per_second": x}. Defaults: ViT-S/16 at 224, batch 16; training with 2 global 224 px and 4
local 96 px crops, a head of 2048 hidden, bottleneck 256 and --out-dim prototypes (65536).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from dino_reference import Head, VisionTransformer  # noqa: E402

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(run, device, seconds, minimum=3):
    """Calls run() until `seconds` have passed (at least `minimum` times), after two warm-ups;
    returns calls per second."""
    for _ in range(2):
        run()
    synchronize(device)
    count, started = 0, time.perf_counter()
    while count < minimum or time.perf_counter() - started < seconds:
        run()
        count += 1
    synchronize(device)
    return count / (time.perf_counter() - started)


def autocast(device, enabled):
    if not enabled:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16)


def inference(args, device):
    dim, depth, heads = SIZES[args.arch]
    model = VisionTransformer(args.size, args.patch, dim, depth, heads).to(device).eval()
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)

    def run():
        with torch.no_grad(), autocast(device, args.amp):
            model(images)

    rate = timed(run, device, args.seconds)
    return {"what": "inference", "images_per_second": round(rate * args.batch, 2)}


def train(args, device):
    dim, depth, heads = SIZES[args.arch]

    def network():
        backbone = VisionTransformer(args.size, args.patch, dim, depth, heads)
        return torch.nn.ModuleDict({
            "backbone": backbone,
            "head": Head(dim, args.out_dim, 2048, 256, True),
        }).to(device)

    student, teacher = network(), network()
    teacher.load_state_dict(student.state_dict())
    for parameter in teacher.parameters():
        parameter.requires_grad = False
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-4)
    center = torch.zeros(1, args.out_dim, device=device)
    globals_ = torch.randn(2 * args.batch, 3, args.size, args.size, device=device)
    locals_ = torch.randn(args.local_crops * args.batch, 3, args.local_size, args.local_size,
                          device=device)

    def step():
        nonlocal center
        with autocast(device, args.amp):
            with torch.no_grad():
                teacher_out = teacher["head"](teacher["backbone"](globals_)).float()
                targets = F.softmax((teacher_out - center) / 0.04, dim=-1).chunk(2)
            outputs = [student["head"](student["backbone"](globals_))]
            if args.local_crops:
                outputs.append(student["head"](student["backbone"](locals_)))
            student_log = F.log_softmax(torch.cat(outputs).float() / 0.1, dim=-1)
        views = student_log.chunk(2 + args.local_crops)
        loss, terms = 0.0, 0
        for q, target in enumerate(targets):
            for v, view in enumerate(views):
                if v != q:
                    loss = loss + (-target * view).sum(-1).mean()
                    terms += 1
        loss = loss / terms
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for parameter in student.parameters():
            if parameter.grad is not None:
                norm = parameter.grad.norm()
                parameter.grad.mul_(torch.clamp(3.0 / (norm + 1e-6), max=1.0))
        optimizer.step()
        with torch.no_grad():
            for s, t in zip(student.parameters(), teacher.parameters()):
                t.mul_(0.996).add_(s.detach(), alpha=0.004)
            center = center * 0.9 + teacher_out.mean(0, keepdim=True) * 0.1

    rate = timed(step, device, args.seconds)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return {"what": "train", "images_per_second": round(rate * args.batch, 2),
            "local_crops": args.local_crops, "out_dim": args.out_dim, "peak_gpu_bytes": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    parser.add_argument("--arch", default="small", choices=sorted(SIZES))
    parser.add_argument("--patch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--local-size", type=int, default=96)
    parser.add_argument("--local-crops", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out-dim", type=int, default=65536)
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (f32 master weights)")
    parser.add_argument("--only", choices=["inference", "train"], help="one measurement")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    common = {"peer": "torch", "version": torch.__version__, "device": args.device,
              "threads": torch.get_num_threads(), "arch": f"vit_{args.arch}", "patch": args.patch,
              "size": args.size, "batch": args.batch, "precision": "bf16-autocast" if args.amp else "f32"}
    if device.type == "cuda":
        common["gpu"] = torch.cuda.get_device_name(device)
    for measure in (inference, train):
        if args.only and measure.__name__ != args.only:
            continue
        print(json.dumps({**common, **measure(args, device)}), flush=True)


if __name__ == "__main__":
    main()
