#!/usr/bin/env python3
"""Writes the checkpoint fixtures of src/io to tests/fixtures/checkpoints/.

Files (each under 20 KB):
  state_dict.pth       torch.save of a state dict: f32, f16, bf16, f64, i64, i32, bool, a transposed
                       (non-contiguous) tensor, a view with a storage offset, two tensors sharing one
                       storage, a 0-d scalar, an empty tensor and an nn.Parameter.
  state_dict_zip64.pth the same entries repacked by hand as a ZIP64 archive (ZIP64 extra fields,
                       ZIP64 end of central directory record and locator).
  state_dict_deflate.pth the same entries repacked with deflate compression.
  dino_checkpoint.pth  a DINO-training-checkpoint-like dict: teacher and student state dicts with
                       "module." and "backbone." prefixes, optimizer state, epoch and argparse.Namespace.
  malicious.pth        torch.save of a dict holding an object whose __reduce__ names os.system; the
                       pickler only records the reference, nothing is run, and readers must refuse it.
  malicious.pkl        the same object as a bare protocol-2 pickle.
  weights.safetensors  written by hand following the safetensors specification.
  array.npy            numpy.save of a float32 array (to compare writeNpy's bytes with).
  expected.json        the values every reader must return.

Usage (Debian's python3-torch): /usr/bin/python3 tools/make_checkpoint_fixtures.py
"""
import argparse
import collections
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn

from fixture_common import write_safetensors_entries

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "fixtures", "checkpoints")
DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.bool: "BOOL",
}


def describe(tensor):
    """Dtype, shape and C-order values (floats exactly as float32/float64, ints as ints)."""
    t = tensor.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        values = t.float().flatten().tolist()
    elif t.dtype == torch.bool:
        values = [1 if v else 0 for v in t.flatten().tolist()]
    else:
        values = t.flatten().tolist()
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "values": values}


def state_dict_fixture(generator):
    base = torch.arange(12, dtype=torch.float32) * 0.5 - 1.0
    shared = torch.randn(6, generator=generator)
    entries = collections.OrderedDict()
    entries["f32"] = torch.randn(3, 4, generator=generator)
    entries["f16"] = torch.randn(5, generator=generator).half()
    entries["bf16"] = torch.randn(2, 3, generator=generator).bfloat16()
    entries["f64"] = torch.randn(4, generator=generator, dtype=torch.float64)
    entries["i64"] = torch.tensor([-3, 0, 7, 2**40 + 1, -(2**35)], dtype=torch.int64)
    entries["i32"] = torch.tensor([[-(2**31), 5], [2**31 - 1, -1]], dtype=torch.int32)
    entries["bool"] = torch.tensor([True, False, True])
    entries["transposed"] = torch.randn(3, 5, generator=generator).t()
    entries["offset_view"] = base[3:9].view(2, 3)
    entries["shared_a"] = shared[1:4]
    entries["shared_b"] = shared.view(2, 3)
    entries["scalar"] = torch.tensor(2.5)
    entries["empty"] = torch.zeros(0, 3)
    entries["param"] = nn.Parameter(torch.randn(2, 2, generator=generator))
    assert not entries["transposed"].is_contiguous()
    assert entries["offset_view"].storage_offset() == 3
    return entries


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.norm = nn.LayerNorm(4)


class MultiCrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Tiny()
        self.head = nn.Linear(4, 3)


class Ddp(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module


def randomise(module, generator):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    return module


class Evil:
    """Pickles as a call of os.system; torch.save only records the reference."""

    def __reduce__(self):
        return (os.system, ("echo dinogpu-fixture-must-never-run",))


def zip_entries(path):
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info.filename)) for info in archive.infolist()]


def write_zip64(path, entries):
    """A stored ZIP64 archive: sizes and offsets in ZIP64 extra fields, ZIP64 end records."""
    out = io.BytesIO()
    central = []
    for name, data in entries:
        offset = out.tell()
        encoded = name.encode()
        crc = zlib.crc32(data)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(encoded), len(extra)))
        out.write(encoded + extra + data)
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                                   0xFFFFFFFF, 0xFFFFFFFF, len(encoded), len(central_extra), 0,
                                   0, 0, 0, 0xFFFFFFFF) + encoded + central_extra)
    directory_offset = out.tell()
    for record in central:
        out.write(record)
    directory_size = out.tell() - directory_offset
    zip64_end = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                          directory_size, directory_offset))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
                          0))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def write_deflated(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)


def write_safetensors(path, tensors, metadata):
    """Each tensor at its own dtype (DTYPE_NAMES), `metadata` first (fixture_common.py's writer)."""
    entries = {}
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        elif t.dtype == torch.bool:
            raw = t.numpy().astype(np.uint8).tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        entries[name] = (DTYPE_NAMES[t.dtype], t.shape, raw)
    write_safetensors_entries(path, entries, metadata)


def main():
    os.makedirs(TARGET, exist_ok=True)
    generator = torch.Generator().manual_seed(9)
    expected = {"torch": torch.__version__}

    entries = state_dict_fixture(generator)
    state_path = os.path.join(TARGET, "state_dict.pth")
    torch.save(entries, state_path)
    expected["state_dict"] = {name: describe(t) for name, t in entries.items()}
    expected["transposed_stride"] = list(entries["transposed"].stride())
    raw_entries = zip_entries(state_path)
    write_zip64(os.path.join(TARGET, "state_dict_zip64.pth"), raw_entries)
    write_deflated(os.path.join(TARGET, "state_dict_deflate.pth"), raw_entries)

    teacher = randomise(Ddp(MultiCrop()), generator).state_dict()
    student = randomise(MultiCrop(), generator).state_dict()
    namespace = argparse.Namespace(arch="vit_small", patch_size=16, lr=0.0005,
                                   local_crops_scale=(0.05, 0.4), norm_last_layer=True,
                                   data_path=None, weight_decay_end=0.4, out_dim=65536)
    checkpoint = {
        "student": student,
        "teacher": teacher,
        "optimizer": {"state": {0: {"step": 3, "exp_avg": torch.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "epoch": 3,
        "args": namespace,
        "dino_loss": {"center": torch.zeros(1, 3)},
    }
    torch.save(checkpoint, os.path.join(TARGET, "dino_checkpoint.pth"))
    expected["dino"] = {
        "teacher": {name: describe(t) for name, t in teacher.items()},
        "student": {name: describe(t) for name, t in student.items()},
        "epoch": 3,
        "args": vars(namespace),
    }

    torch.save({"weight": torch.ones(2), "payload": Evil()},
               os.path.join(TARGET, "malicious.pth"))
    import pickle
    with open(os.path.join(TARGET, "malicious.pkl"), "wb") as f:
        f.write(pickle.dumps(Evil(), protocol=2))

    safetensors_tensors = collections.OrderedDict()
    safetensors_tensors["embeddings.weight"] = torch.randn(2, 3, generator=generator)
    safetensors_tensors["half"] = torch.randn(4, generator=generator).half()
    safetensors_tensors["brain"] = torch.randn(2, 2, generator=generator).bfloat16()
    safetensors_tensors["steps"] = torch.tensor([1, -2, 2**40], dtype=torch.int64)
    safetensors_tensors["double"] = torch.randn(2, generator=generator, dtype=torch.float64)
    safetensors_tensors["mask"] = torch.tensor([True, False, False])
    metadata = {"format": "pt", "note": "dinogpu fixture"}
    write_safetensors(os.path.join(TARGET, "weights.safetensors"), safetensors_tensors, metadata)
    expected["safetensors"] = {name: describe(t) for name, t in safetensors_tensors.items()}
    expected["safetensors_metadata"] = metadata

    array = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.25) / 3
    np.save(os.path.join(TARGET, "array.npy"), array)
    expected["npy"] = {"shape": list(array.shape), "values": array.flatten().tolist()}

    with open(os.path.join(TARGET, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(TARGET)):
        size = os.path.getsize(os.path.join(TARGET, name))
        assert size < 20_000, f"{name} is {size} bytes"
        print(f"{name}: {size} bytes")


if __name__ == "__main__":
    main()
