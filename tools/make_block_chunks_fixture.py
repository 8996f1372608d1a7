#!/usr/bin/python3
"""Writes tests/fixtures/models/dinov2_block_chunks*: a tiny DINOv2 *training* checkpoint whose
backbones were built with `block_chunks` > 0, and PyTorch's outputs for it.

Run by hand with Debian's python3-torch (PyTorch 1.13; never in CI):

    /usr/bin/python3 tools/make_block_chunks_fixture.py

facebookresearch/dinov2 (models/vision_transformer.py) splits the blocks of a ViT built with
`block_chunks=K` into `BlockChunk`s (an nn.ModuleList each) for FSDP wrapping: the chunk size is
depth // K, and each chunk is padded in front with nn.Identity modules up to the index of its first
block, so a block's key keeps its index in the whole model: `blocks.C.N.*`, C the chunk and N the
global block index (depth 4, K 2: blocks.0.0, blocks.0.1, blocks.1.2, blocks.1.3). The trainer's
SSLMetaArch holds `student` and `teacher`, each an nn.ModuleDict of `backbone`, `dino_head` (and
`ibot_head` when separate), plus the losses' `center` buffers; its state dict is saved under
`model` (train/train.py), and eval's teacher_checkpoint.pth is {"teacher": teacher.state_dict()}.
The modules here rebuild that structure, so the keys are written by PyTorch's own module nesting.

Files (in tests/fixtures/models/):
  dinov2_block_chunks.pth   {"model": SSLMetaArch-like state dict (teacher.backbone.blocks.C.N.*,
                            student.*, dino_head/ibot_head, dino_loss.center), "optimizer": ...,
                            "iteration": 7}; width 16, 2 heads, depth 4 in 2 chunks, patch 4,
                            16 px (a 4x4 grid), LayerScale, 1 register, mask token.
  dinov2_block_chunks.expected.safetensors  `teacher` and `student` [B, 16]: the CLS token after
                            the final norm for the closed-form input `pattern(2, 16)` of
                            make_model_fixtures.py (recomputed by the test); `teacher_attention`
                            [B, heads, N, N]: the teacher's last-block softmax.
"""
import collections
import os

import torch
import torch.nn as nn

from make_model_fixtures import Block, PatchEmbed, pattern, randomise, write_safetensors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "models")
DIM, HEADS, DEPTH, CHUNKS, PATCH, GRID, REGISTERS = 16, 2, 4, 2, 4, 4, 1


class BlockChunk(nn.ModuleList):
    """A run of blocks after the nn.Identity padding that keeps their global indices."""

    def forward(self, x):
        attn = None
        for block in self:
            if not isinstance(block, nn.Identity):
                x, attn = block(x)
        return x, attn


class ChunkedVit(nn.Module):
    """DINOv2's ViT (LayerScale, registers, mask token) with its blocks in chunks."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + GRID * GRID, DIM))
        self.register_tokens = nn.Parameter(torch.zeros(1, REGISTERS, DIM))
        self.mask_token = nn.Parameter(torch.zeros(1, DIM))
        self.patch_embed = PatchEmbed(PATCH, DIM)
        blocks = [Block(DIM, HEADS, layer_scale=True) for _ in range(DEPTH)]
        size = DEPTH // CHUNKS
        self.blocks = nn.ModuleList(
            [BlockChunk([nn.Identity()] * i + blocks[i:i + size]) for i in range(0, DEPTH, size)]
        )
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def forward(self, x):
        B = x.shape[0]
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.pos_embed  # the input is the weights' own grid: no interpolation
        x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        attn = None
        for chunk in self.blocks:
            x, attn = chunk(x)
        return self.norm(x)[:, 0], attn


class DinoHead(nn.Module):
    """DINOv2's DINOHead: an MLP (Linear, GELU, Linear) and a weight-normalised last layer."""

    def __init__(self, out_dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(DIM, 24), nn.GELU(), nn.Linear(24, 8))
        self.last_layer = nn.utils.weight_norm(nn.Linear(8, out_dim, bias=False))


class Loss(nn.Module):
    def __init__(self, out_dim):
        super().__init__()
        self.register_buffer("center", torch.zeros(1, out_dim))


class SslMetaArch(nn.Module):
    def __init__(self):
        super().__init__()
        self.dino_loss = Loss(12)
        self.ibot_patch_loss = Loss(10)
        self.student = nn.ModuleDict(
            {"backbone": ChunkedVit(), "dino_head": DinoHead(12), "ibot_head": DinoHead(10)})
        self.teacher = nn.ModuleDict(
            {"backbone": ChunkedVit(), "dino_head": DinoHead(12), "ibot_head": DinoHead(10)})


def main():
    arch = SslMetaArch().eval()
    randomise(arch.teacher.backbone, 21)
    randomise(arch.student.backbone, 22)
    generator = torch.Generator().manual_seed(23)
    with torch.no_grad():
        for name, p in arch.named_parameters():
            if "_head." in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))
    state = arch.state_dict()
    assert "teacher.backbone.blocks.1.2.norm1.weight" in state, list(state)[:20]
    assert not any(k.startswith("teacher.backbone.blocks.1.0.") for k in state)
    checkpoint = {
        "model": state,
        "optimizer": {"state": {0: {"exp_avg": torch.ones(2)}},
                      "param_groups": [{"lr": 0.004, "params": [0]}]},
        "iteration": 7,
    }
    path = os.path.join(OUT, "dinov2_block_chunks.pth")
    torch.save(checkpoint, path)

    images = pattern(2, GRID * PATCH)
    with torch.no_grad():
        teacher, attn = arch.teacher.backbone(images)
        student, _ = arch.student.backbone(images)
    expected = collections.OrderedDict(
        teacher=teacher, student=student, teacher_attention=attn.contiguous())
    expected_path = os.path.join(OUT, "dinov2_block_chunks.expected.safetensors")
    write_safetensors(expected_path, expected)
    for name in (path, expected_path):
        size = os.path.getsize(name)
        assert size < 200_000, f"{name} is {size} bytes"
        print(f"{os.path.basename(name)}: {size} bytes")


if __name__ == "__main__":
    main()
