#!/usr/bin/python3
"""A small DINO in PyTorch (Debian's python3-torch 1.13, CPU) to calibrate dinogpu's small-data
recipes on Fashion-MNIST: the same model, head, loss, schedules and (grayscale) augmentations as
`dinogpu train --data fashion-mnist` with the small preset, so that a recipe can be explored here
and compared with dinogpu's runs. Not used by the tests.

  /usr/bin/python3 tools/dino_reference.py --epochs 1 --batch-size 128 --embed-dim 64 --depth 3 \
      --heads 4 --patch-size 7 --out-dim 1024 --local-crops 4 --lr 1e-3 --momentum 0.996

Prints one JSON line per log step (loss, teacher entropy, KL) and the k-NN top-1 of the teacher's
CLS features (cosine, k = 20, votes exp(sim / 0.07), full 60k bank) before and after training.

`--supervised` trains the same backbone with labels instead (a linear classifier on its CLS
token, cross-entropy, AdamW at --lr, no augmentation) and prints the same k-NN: what the
architecture reaches when told the classes, to compare self-supervised runs with.
"""
import argparse
import gzip
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def read_idx(path):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).view(*shape)


def fashion_mnist(root="/usr/share/datasets/fashion-mnist"):
    return (read_idx(f"{root}/train-images-idx3-ubyte.gz"), read_idx(f"{root}/train-labels-idx1-ubyte.gz"),
            read_idx(f"{root}/t10k-images-idx3-ubyte.gz"), read_idx(f"{root}/t10k-labels-idx1-ubyte.gz"))


def random_resized_crops(images, size, scale, generator):
    """RandomResizedCrop (ratio 3/4..4/3, bilinear) of a [B, 1, H, W] float batch via affine grids."""
    batch, _, height, width = images.shape
    area = torch.empty(batch).uniform_(*scale, generator=generator)
    log_ratio = torch.empty(batch).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
    ratio = torch.exp(log_ratio)
    crop_w = torch.sqrt(area * ratio).clamp(max=1.0)
    crop_h = torch.sqrt(area / ratio).clamp(max=1.0)
    center_x = (torch.rand(batch, generator=generator) * (1 - crop_w) + crop_w / 2) * 2 - 1
    center_y = (torch.rand(batch, generator=generator) * (1 - crop_h) + crop_h / 2) * 2 - 1
    flip = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = crop_w * flip
    theta[:, 0, 2] = center_x
    theta[:, 1, 1] = crop_h
    theta[:, 1, 2] = center_y
    grid = F.affine_grid(theta, [batch, 1, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def jitter(views, generator, solarize=0.0):
    """Brightness and contrast jitter (p 0.8, strength 0.4; gray images have no saturation or
    hue), optional solarisation, then gray -> RGB and ImageNet normalisation."""
    batch = views.shape[0]
    apply = (torch.rand(batch, 1, 1, 1, generator=generator) < 0.8).float()
    brightness = 1 + apply * torch.empty(batch, 1, 1, 1).uniform_(-0.4, 0.4, generator=generator)
    views = (views * brightness).clamp(0, 1)
    contrast = 1 + apply * torch.empty(batch, 1, 1, 1).uniform_(-0.4, 0.4, generator=generator)
    mean = views.mean(dim=(1, 2, 3), keepdim=True)
    views = (mean + (views - mean) * contrast).clamp(0, 1)
    if solarize > 0:
        flip = (torch.rand(batch, 1, 1, 1, generator=generator) < solarize) & (views >= 0.5)
        views = torch.where(flip, 1 - views, views)
    return (views.expand(-1, 3, -1, -1) - MEAN) / STD


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.heads = heads

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.qkv(self.norm1(x)).view(batch, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) / math.sqrt(dim // self.heads)).softmax(-1)
        x = x + self.proj((attention @ v).transpose(1, 2).reshape(batch, tokens, dim))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class VisionTransformer(nn.Module):
    def __init__(self, image, patch, dim, depth, heads):
        super().__init__()
        self.patch = patch
        self.grid = image // patch
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 1 + self.grid ** 2, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def position(self, grid):
        if grid == self.grid:
            return self.pos
        patches = self.pos[:, 1:].reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        patches = F.interpolate(patches, scale_factor=(grid + 0.1) / self.grid, mode="bicubic",
                                align_corners=False)
        return torch.cat([self.pos[:, :1], patches.flatten(2).transpose(1, 2)], 1)

    def forward(self, images):
        x = self.embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        x = x + self.position(images.shape[-1] // self.patch)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


class Head(nn.Module):
    def __init__(self, dim, out_dim, hidden, bottleneck, norm_last_layer):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, bottleneck))
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        self.last = nn.utils.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))
        self.last.weight_g.data.fill_(1)
        if norm_last_layer:
            self.last.weight_g.requires_grad = False

    def forward(self, x):
        return self.last(F.normalize(self.mlp(x), dim=-1))


def cosine(base, final, steps, warmup_steps=0, warmup_start=0.0):
    values = []
    for step in range(steps):
        if step < warmup_steps:
            values.append(warmup_start + (base - warmup_start) * step / warmup_steps)
        else:
            t = (step - warmup_steps) / max(1, steps - warmup_steps)
            values.append(final + 0.5 * (base - final) * (1 + math.cos(math.pi * t)))
    return values


@torch.no_grad()
def features(backbone, images, batch=500):
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch].float().unsqueeze(1) / 255
        out.append(F.normalize(backbone((chunk.expand(-1, 3, -1, -1) - MEAN) / STD), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def knn(backbone, train_x, train_y, test_x, test_y, k=20, temperature=0.07):
    bank = features(backbone, train_x)
    queries = features(backbone, test_x)
    correct = 0
    for start in range(0, len(queries), 500):
        sims, index = (queries[start:start + 500] @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(index), 10).scatter_add_(1, train_y[index].long(), (sims / temperature).exp())
        correct += (votes.argmax(1) == test_y[start:start + 500].long()).sum().item()
    return 100 * correct / len(queries)


def supervised(args, train_x, train_y, test_x, test_y):
    backbone = VisionTransformer(28, args.patch_size, args.embed_dim, args.depth, args.heads)
    classifier = nn.Linear(args.embed_dim, 10)
    print(json.dumps({"knn_before": knn(backbone, train_x, train_y, test_x, test_y)}), flush=True)
    optimizer = torch.optim.AdamW([*backbone.parameters(), *classifier.parameters()], lr=args.lr,
                                  weight_decay=0.05)
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x))
        for start in range(0, len(train_x) - args.batch_size + 1, args.batch_size):
            index = order[start:start + args.batch_size]
            images = train_x[index].float().unsqueeze(1) / 255
            logits = classifier(backbone((images.expand(-1, 3, -1, -1) - MEAN) / STD))
            loss = F.cross_entropy(logits, train_y[index].long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(json.dumps({"epoch": epoch + 1, "loss": loss.item(),
                          "knn": knn(backbone, train_x, train_y, test_x, test_y)}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    for name, default in [("epochs", 1), ("batch-size", 128), ("embed-dim", 64), ("depth", 3), ("heads", 4),
                          ("patch-size", 7), ("out-dim", 1024), ("local-crops", 4), ("head-hidden", 256),
                          ("head-bottleneck", 64), ("seed", 0), ("max-steps", 0),
                          ("log-every", 50), ("threads", 2)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    for name, default in [("warmup-epochs", 1.0), ("lr", 1e-3), ("momentum", 0.996), ("teacher-temp", 0.04), ("student-temp", 0.1),
                          ("weight-decay", 0.04), ("weight-decay-end", 0.4), ("clip", 3.0)]:
        parser.add_argument(f"--{name}", type=float, default=default)
    parser.add_argument("--norm-last-layer", action="store_true")
    parser.add_argument("--supervised", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    train_x, train_y, test_x, test_y = fashion_mnist()
    if args.supervised:
        supervised(args, train_x, train_y, test_x, test_y)
        return

    def network():
        return nn.ModuleDict({
            "backbone": VisionTransformer(28, args.patch_size, args.embed_dim, args.depth, args.heads),
            "head": Head(args.embed_dim, args.out_dim, args.head_hidden, args.head_bottleneck,
                         args.norm_last_layer)})

    student, teacher = network(), network()
    teacher.load_state_dict(student.state_dict())
    for parameter in teacher.parameters():
        parameter.requires_grad = False
    regularised = [p for n, p in student.named_parameters() if p.requires_grad and not n.endswith(".bias") and p.ndim > 1]
    plain = [p for n, p in student.named_parameters() if p.requires_grad and (n.endswith(".bias") or p.ndim == 1)]
    optimizer = torch.optim.AdamW([{"params": regularised}, {"params": plain, "weight_decay": 0.0}])
    steps_per_epoch = len(train_x) // args.batch_size
    total = args.epochs * steps_per_epoch
    lr = cosine(args.lr * args.batch_size / 256, 1e-6, total, round(args.warmup_epochs * steps_per_epoch))
    wd = cosine(args.weight_decay, args.weight_decay_end, total)
    momentum = cosine(args.momentum, 1.0, total)
    center = torch.zeros(1, args.out_dim)
    print(json.dumps({"knn_before": knn(teacher["backbone"], train_x, train_y, test_x, test_y)}), flush=True)
    step, started = 0, time.time()
    local_size = 14
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for batch_index in range(steps_per_epoch):
            if args.max_steps and step >= args.max_steps:
                break
            images = train_x[order[batch_index * args.batch_size:(batch_index + 1) * args.batch_size]]
            images = images.float().unsqueeze(1) / 255
            globals_ = [jitter(random_resized_crops(images, 28, (0.7, 1.0), generator), generator, s)
                        for s in (0.0, 0.2)]
            locals_ = [jitter(random_resized_crops(images, local_size, (0.2, 0.5), generator), generator)
                       for _ in range(args.local_crops)]
            for group in optimizer.param_groups:
                group["lr"] = lr[step]
            optimizer.param_groups[0]["weight_decay"] = wd[step]
            with torch.no_grad():
                teacher_out = teacher["head"](teacher["backbone"](torch.cat(globals_)))
                targets = F.softmax((teacher_out - center) / args.teacher_temp, dim=-1).chunk(2)
            student_out = torch.cat([student["head"](student["backbone"](torch.cat(globals_))),
                                     *([student["head"](student["backbone"](torch.cat(locals_)))]
                                       if locals_ else [])])
            student_log = F.log_softmax(student_out / args.student_temp, dim=-1).chunk(2 + len(locals_))
            loss, terms = 0.0, 0
            for q, target in enumerate(targets):
                for v, view in enumerate(student_log):
                    if v != q:
                        loss = loss + (-target * view).sum(-1).mean()
                        terms += 1
            loss = loss / terms
            optimizer.zero_grad()
            loss.backward()
            for parameter in student.parameters():
                if parameter.grad is not None:
                    norm = parameter.grad.norm()
                    if norm > args.clip:
                        parameter.grad.mul_(args.clip / (norm + 1e-6))
            optimizer.step()
            with torch.no_grad():
                for s, t in zip(student.parameters(), teacher.parameters()):
                    t.mul_(momentum[step]).add_((1 - momentum[step]) * s.detach())
                center = center * 0.9 + teacher_out.mean(0, keepdim=True) * 0.1
                entropy = -(torch.cat(targets) * torch.log(torch.cat(targets) + 1e-12)).sum(-1).mean().item()
            step += 1
            if step % args.log_every == 0:
                print(json.dumps({"step": step, "loss": loss.item(), "teacher_entropy": entropy,
                                  "kl": loss.item() - entropy,
                                  "images_per_second": step * args.batch_size / (time.time() - started)}),
                      flush=True)
        print(json.dumps({"epoch": epoch + 1, "knn": knn(teacher["backbone"], train_x, train_y, test_x, test_y)}),
              flush=True)


if __name__ == "__main__":
    main()
