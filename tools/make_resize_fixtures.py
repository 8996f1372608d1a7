#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures of resizeBicubic to tests/fixtures/resize/.

Each fixture is a small JSON file with the input (shape and values), the F.interpolate options
and PyTorch's output, for the three forms official checkpoints use:
  size=[h, w]; scale_factor=[sh, sw] (output size floor(in * scale), coordinates mapped with
  1 / scale); size=[h, w] with antialias=True.

Usage (Debian's python3-torch): /usr/bin/python3 tools/make_resize_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "fixtures", "resize")


def write(name, shape, seed, **options):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64).to(torch.float32)
    y = F.interpolate(x, mode="bicubic", align_corners=False, **options)
    fixture = {
        "name": name,
        "torch": torch.__version__,
        "inputShape": list(x.shape),
        "input": [float(v) for v in x.flatten().tolist()],
        "options": {
            "size": options.get("size"),
            "scaleFactor": list(options["scale_factor"]) if "scale_factor" in options else None,
            "antialias": options.get("antialias", False),
        },
        "outputShape": list(y.shape),
        "output": [float(v) for v in y.flatten().tolist()],
    }
    with open(os.path.join(TARGET, f"{name}.json"), "w") as file:
        json.dump(fixture, file)
    print(f"{name}: {list(x.shape)} -> {list(y.shape)}")


def main():
    os.makedirs(TARGET, exist_ok=True)
    write("size_5x7_to_9x11", [1, 2, 5, 7], 1, size=[9, 11])
    write("size_9x6_to_4x5", [2, 1, 9, 6], 2, size=[4, 5])
    # DINO's position embeddings: scale_factor = (grid + 0.1) / M
    write("scale_14_to_15x16", [1, 8, 14, 14], 3, scale_factor=(15.1 / 14, 16.1 / 14))
    write("scale_37_to_16", [1, 2, 37, 37], 4, scale_factor=(16.1 / 37, 16.1 / 37))
    write("scale_14_to_37", [1, 2, 14, 14], 8, scale_factor=(37.1 / 14, 37.1 / 14))
    write("antialias_37_to_16", [1, 2, 37, 37], 5, size=[16, 16], antialias=True)
    write("antialias_6x5_to_13x11", [1, 2, 6, 5], 6, size=[13, 11], antialias=True)
    write("antialias_20x9_to_7x12", [1, 2, 20, 9], 7, size=[7, 12], antialias=True)


if __name__ == "__main__":
    main()
