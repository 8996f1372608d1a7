"""Shared by the fixture generators in tools/ (make_model_fixtures.py, make_dinov3_fixtures.py,
make_checkpoint_fixtures.py): safetensors written by hand and the plain MLP and LayerScale of the
reference ViTs. Imported as a sibling module (the scripts run as `/usr/bin/python3 tools/<script>.py`).
"""
import argparse
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


def output_folder(doc, default):
    """The generator's --out folder (`default` unless given), created; the first line of `doc`
    (the script's docstring) describes the script in --help."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", default=default)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    return out


def write_safetensors_entries(path, entries, metadata=None):
    """safetensors by hand: u64 header length, JSON header (`__metadata__` first when given)
    padded with spaces to 8 bytes, then the data. `entries` maps each name, in order, to
    (dtype name, shape, little-endian bytes)."""
    header = {} if metadata is None else {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, (dtype, shape, data) in entries.items():
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_safetensors(path, tensors, dtype="F32"):
    """`tensors` (name -> tensor, in order) as safetensors, every one stored as F32 or BF16."""
    entries = {}
    for name, value in tensors.items():
        value = value.detach().contiguous()
        data = (value.float().numpy().tobytes() if dtype == "F32"
                else value.bfloat16().view(torch.int16).numpy().tobytes())
        entries[name] = (dtype, value.shape, data)
    write_safetensors_entries(path, entries)


class Mlp(nn.Module):
    """The plain MLP of DINO, DINOv2, DINOv3 and timm's Mixer: fc2(GELU(fc1(x))), exact GELU."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class LayerScale(nn.Module):
    """DINOv2's and DINOv3's LayerScale: x * gamma (per channel)."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma
