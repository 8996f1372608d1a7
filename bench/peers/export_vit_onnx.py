#!/usr/bin/python3
"""Exports the PyTorch peer's ViT (tools/dino_reference.py, the same model bench/peers/torch_vit.py
times; random weights) to ONNX for the onnxruntime peer (bench/peers/onnx_vit.ts), with a fixed
input shape [batch, 3, size, size] and one output: the CLS features [batch, dim]. Not used by the
tests.

  /usr/bin/python3 bench/peers/export_vit_onnx.py OUT.onnx [--arch small] [--patch 16] \
      [--size 224] [--batch 16]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from dino_reference import VisionTransformer  # noqa: E402

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--arch", default="small", choices=sorted(SIZES))
    parser.add_argument("--patch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    dim, depth, heads = SIZES[args.arch]
    model = VisionTransformer(args.size, args.patch, dim, depth, heads).eval()
    images = torch.randn(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        torch.onnx.export(model, (images,), args.out, input_names=["images"],
                          output_names=["features"], opset_version=14)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2 ** 20:.1f} MiB)")


if __name__ == "__main__":
    main()
