#!/usr/bin/python3
"""Writes tests/fixtures/models: small random-weight checkpoints in every layout dinogpu reads and
PyTorch's outputs for them (features and last-block attention rows).

Run by hand with Debian's python3-torch (never in CI):

    /usr/bin/python3 tools/make_model_fixtures.py

The reference modules below re-implement the forward code of facebookresearch/dino and
facebookresearch/dinov2 (vision_transformer.py, layers/), timm's mlp_mixer.py and transformers'
modeling_vit.py / modeling_dinov2.py, written from reading them: same operations in the same order
(LayerNorm eps, exact GELU, q @ k^T * scale, softmax, position-embedding interpolation variants).

Widths are small (embed 32, depth 2) but patch sizes and position-embedding grids are the real
ones. Inputs are a closed-form pattern (see `pattern`) that tests/nn/parity_test.ts recomputes, so
no image data is stored. Per case, `<case>.expected.safetensors` holds `features` [B, dim] and
`attention` [B, heads, QUERIES, N] (the softmax rows of the first QUERIES query tokens of the last
block, CLS first); `manifest.json` lists the cases.
"""
import argparse
import collections
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import LayerScale, Mlp, output_folder, write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")
QUERIES = 6
DIM = 32
DEPTH = 2
HEADS = 2


def pattern(batch, size):
    """The input images [B, 3, size, size] (float64 maths, then float32), as the test computes."""
    b = torch.arange(batch, dtype=torch.float64).view(batch, 1, 1, 1)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    h = torch.arange(size, dtype=torch.float64).view(1, 1, size, 1)
    w = torch.arange(size, dtype=torch.float64).view(1, 1, 1, size)
    x = torch.sin(0.11 * h + 0.07 * w + 1.3 * c + 0.5 * b) + 0.5 * torch.cos(
        0.013 * h * w / (1 + b) + 0.7 * c
    )
    return x.float()


# ---------------------------------------------------------------- reference modules (DINO / DINOv2)
class SwiGLU(nn.Module):
    """DINOv2's SwiGLUFFNFused: hidden = (int(hidden * 2 / 3) + 7) // 8 * 8."""

    def __init__(self, dim, hidden):
        super().__init__()
        hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x):
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(x1) * x2)


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias=True):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x), attn


class Block(nn.Module):
    def __init__(self, dim, heads, layer_scale=False, swiglu=False, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = SwiGLU(dim, 4 * dim) if swiglu else Mlp(dim, 4 * dim)
        self.ls2 = LayerScale(dim) if layer_scale else nn.Identity()

    def forward(self, x):
        y, attn = self.attn(self.norm1(x))
        x = x + self.ls1(y)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, attn


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """DINO (mask_token/layer_scale off) and DINOv2 (on) ViT; `variant` picks the interpolation."""

    def __init__(self, patch, grid, variant, layer_scale=False, swiglu=False, registers=0,
                 mask_token=False):
        super().__init__()
        self.patch = patch
        self.variant = variant
        self.registers = registers
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, DIM))
        if registers:
            self.register_tokens = nn.Parameter(torch.zeros(1, registers, DIM))
        if mask_token:
            self.mask_token = nn.Parameter(torch.zeros(1, DIM))
        self.patch_embed = PatchEmbed(patch, DIM)
        self.blocks = nn.ModuleList(
            [Block(DIM, HEADS, layer_scale, swiglu) for _ in range(DEPTH)]
        )
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def interpolate_pos_encoding(self, x, h, w):
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w == h:
            return self.pos_embed
        class_pos = self.pos_embed[:, 0]
        patch_pos = self.pos_embed[:, 1:]
        M = int(math.sqrt(N))
        h0, w0 = h // self.patch, w // self.patch
        square = patch_pos.reshape(1, M, M, DIM).permute(0, 3, 1, 2)
        if self.variant == "scale-offset":  # DINO (+0.1) and DINOv2 (interpolate_offset=0.1)
            kwargs = {"scale_factor": (float(h0 + 0.1) / M, float(w0 + 0.1) / M)}
        elif self.variant == "size-antialias":  # DINOv2 with registers
            kwargs = {"size": (h0, w0), "antialias": True}
        else:  # transformers' ViTModel (size=)
            kwargs = {"size": (h0, w0)}
        patch_pos = F.interpolate(square, mode="bicubic", align_corners=False, **kwargs)
        assert patch_pos.shape[-2:] == (h0, w0)
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, DIM)
        return torch.cat((class_pos.unsqueeze(0), patch_pos), dim=1)

    def forward(self, x):
        B, _, h, w = x.shape
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x, h, w)
        if self.registers:
            x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        attn = None
        for block in self.blocks:
            x, attn = block(x)
        x = self.norm(x)
        return x[:, 0], attn


# ---------------------------------------------------------------- timm MLP-Mixer
class MixerBlock(nn.Module):
    def __init__(self, dim, tokens, token_hidden, channel_hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_tokens = Mlp(tokens, token_hidden)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp_channels = Mlp(dim, channel_hidden)

    def forward(self, x):
        x = x + self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp_channels(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, patch, grid, classes=10):
        super().__init__()
        self.stem = PatchEmbed(patch, DIM)
        self.blocks = nn.Sequential(*[MixerBlock(DIM, grid * grid, 24, 64) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)
        self.head = nn.Linear(DIM, classes)

    def forward(self, x):
        x = self.norm(self.blocks(self.stem(x)))
        return x.mean(dim=1), None  # timm's forward_head with global_pool="avg", before the head


# ---------------------------------------------------------------- Hugging Face layouts
def to_hf(state, kind):
    """Renames an official state dict to transformers' ViTModel ("vit") or Dinov2Model names."""
    out = collections.OrderedDict()
    out["embeddings.cls_token"] = state["cls_token"]
    if "mask_token" in state:
        out["embeddings.mask_token"] = state["mask_token"]
    out["embeddings.position_embeddings"] = state["pos_embed"]
    out["embeddings.patch_embeddings.projection.weight"] = state["patch_embed.proj.weight"]
    out["embeddings.patch_embeddings.projection.bias"] = state["patch_embed.proj.bias"]
    for i in range(DEPTH):
        src, dst = f"blocks.{i}.", f"encoder.layer.{i}."
        for part, index in (("query", 0), ("key", 1), ("value", 2)):
            for p in ("weight", "bias"):
                full = state[src + "attn.qkv." + p]
                out[f"{dst}attention.attention.{part}.{p}"] = full.chunk(3, dim=0)[index].clone()
        for p in ("weight", "bias"):
            out[f"{dst}attention.output.dense.{p}"] = state[f"{src}attn.proj.{p}"]
            if kind == "vit":
                out[f"{dst}intermediate.dense.{p}"] = state[f"{src}mlp.fc1.{p}"]
                out[f"{dst}output.dense.{p}"] = state[f"{src}mlp.fc2.{p}"]
                out[f"{dst}layernorm_before.{p}"] = state[f"{src}norm1.{p}"]
                out[f"{dst}layernorm_after.{p}"] = state[f"{src}norm2.{p}"]
            else:
                out[f"{dst}norm1.{p}"] = state[f"{src}norm1.{p}"]
                out[f"{dst}norm2.{p}"] = state[f"{src}norm2.{p}"]
                if f"{src}mlp.w12.{p}" in state:
                    out[f"{dst}mlp.weights_in.{p}"] = state[f"{src}mlp.w12.{p}"]
                    out[f"{dst}mlp.weights_out.{p}"] = state[f"{src}mlp.w3.{p}"]
                else:
                    out[f"{dst}mlp.fc1.{p}"] = state[f"{src}mlp.fc1.{p}"]
                    out[f"{dst}mlp.fc2.{p}"] = state[f"{src}mlp.fc2.{p}"]
        if kind == "dinov2":
            out[f"{dst}layer_scale1.lambda1"] = state[f"{src}ls1.gamma"]
            out[f"{dst}layer_scale2.lambda1"] = state[f"{src}ls2.gamma"]
    out["layernorm.weight"] = state["norm.weight"]
    out["layernorm.bias"] = state["norm.bias"]
    if kind == "vit":  # ViTModel's pooler (add_pooling_layer=True): not part of the backbone
        out["pooler.dense.weight"] = torch.randn(DIM, DIM) * 0.02
        out["pooler.dense.bias"] = torch.zeros(DIM)
    return out


def randomise(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.5 if ("pos_embed" in name or "token" in name) else 0.2
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.startswith(
                    "norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
            elif name.endswith("gamma"):
                p.copy_(0.5 + 0.3 * torch.rand(p.shape, generator=generator))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=generator))


def expected(model, batch, size):
    with torch.no_grad():
        features, attn = model(pattern(batch, size))
    tensors = collections.OrderedDict(features=features)
    if attn is not None:
        tensors["attention"] = attn[:, :, :QUERIES, :].contiguous()
    return tensors


def main():
    out_dir = output_folder(__doc__, OUT)
    manifest = []

    def case(name, weights, model, batch, size, heads=HEADS, arch="vit"):
        write_safetensors(os.path.join(out_dir, f"{name}.expected.safetensors"),
                          expected(model, batch, size))
        manifest.append({"name": name, "weights": weights, "batch": batch, "size": size,
                         "heads": heads, "arch": arch, "queries": QUERIES})

    # DINO ViT-S/16 (pos embed for 224) at 224 and 320 px
    dino16 = VisionTransformer(16, 14, "scale-offset").eval()
    randomise(dino16, 1)
    torch.save(dino16.state_dict(), os.path.join(out_dir, "dino_vit16.pth"))
    case("dino_vit16_224", "dino_vit16.pth", dino16, 2, 224)
    case("dino_vit16_320", "dino_vit16.pth", dino16, 1, 320)

    # DINO ViT-S/8 at 224 (its own grid: no interpolation) and at 112 px
    dino8 = VisionTransformer(8, 28, "scale-offset").eval()
    randomise(dino8, 2)
    torch.save(dino8.state_dict(), os.path.join(out_dir, "dino_vit8.pth"))
    case("dino_vit8_224", "dino_vit8.pth", dino8, 1, 224)

    # DINOv2 ViT-S/14: 37x37 position embedding (518 px) used at 224, LayerScale, mask token
    v2 = VisionTransformer(14, 37, "scale-offset", layer_scale=True, mask_token=True).eval()
    randomise(v2, 3)
    torch.save(v2.state_dict(), os.path.join(out_dir, "dinov2_vit14.pth"))
    case("dinov2_vit14_224", "dinov2_vit14.pth", v2, 2, 224)

    # the same with 4 registers (interpolate_antialias=True, interpolate_offset=0)
    reg = VisionTransformer(14, 37, "size-antialias", layer_scale=True, registers=4,
                            mask_token=True).eval()
    randomise(reg, 4)
    torch.save(reg.state_dict(), os.path.join(out_dir, "dinov2_vit14_reg4.pth"))
    case("dinov2_vit14_reg4_224", "dinov2_vit14_reg4.pth", reg, 2, 224)

    # a SwiGLU model (DINOv2 giant's feed-forward)
    swiglu = VisionTransformer(14, 16, "scale-offset", layer_scale=True, swiglu=True,
                               mask_token=True).eval()
    randomise(swiglu, 5)
    torch.save(swiglu.state_dict(), os.path.join(out_dir, "dinov2_swiglu.pth"))
    case("dinov2_swiglu_224", "dinov2_swiglu.pth", swiglu, 2, 224)

    # a DINO training checkpoint: student under module.backbone./module.head., teacher under
    # backbone./head. (the teacher is what dinogpu loads); head weights are dropped
    teacher = VisionTransformer(16, 14, "scale-offset").eval()
    randomise(teacher, 6)
    student = VisionTransformer(16, 14, "scale-offset").eval()
    randomise(student, 7)
    generator = torch.Generator().manual_seed(8)

    def with_head(state, prefix):
        out = collections.OrderedDict((f"{prefix}backbone.{k}", v) for k, v in state.items())
        out[f"{prefix}head.mlp.0.weight"] = torch.randn(64, DIM, generator=generator)
        out[f"{prefix}head.mlp.0.bias"] = torch.zeros(64)
        out[f"{prefix}head.last_layer.weight_g"] = torch.ones(128, 1)
        out[f"{prefix}head.last_layer.weight_v"] = torch.randn(128, 64, generator=generator)
        return out

    checkpoint = {
        "student": with_head(student.state_dict(), "module."),
        "teacher": with_head(teacher.state_dict(), ""),
        "epoch": 3,
        "args": argparse.Namespace(arch="vit_small", patch_size=16, out_dim=128),
        "dino_loss": {"center": torch.zeros(1, 128)},
    }
    torch.save(checkpoint, os.path.join(out_dir, "dino_training_checkpoint.pth"))
    case("dino_training_checkpoint_224", "dino_training_checkpoint.pth", teacher, 2, 224)

    # timm MLP-Mixer-S/16 at 224 (small widths), with its classifier head
    mixer = Mixer(16, 14).eval()
    randomise(mixer, 9)
    torch.save(mixer.state_dict(), os.path.join(out_dir, "timm_mixer16.pth"))
    case("timm_mixer16_224", "timm_mixer16.pth", mixer, 2, 224, arch="mixer")

    # Hugging Face ViTModel (facebook/dino-vits16 layout): eps 1e-12, pooler present
    hf_vit = VisionTransformer(16, 14, "size").eval()
    for module in hf_vit.modules():
        if isinstance(module, nn.LayerNorm):
            module.eps = 1e-12
    randomise(hf_vit, 10)
    folder = os.path.join(out_dir, "hf_vit16")
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), to_hf(hf_vit.state_dict(), "vit"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["ViTModel"], "model_type": "vit", "hidden_size": DIM,
                   "num_hidden_layers": DEPTH, "num_attention_heads": HEADS,
                   "intermediate_size": 4 * DIM, "hidden_act": "gelu", "image_size": 224,
                   "patch_size": 16, "num_channels": 3, "qkv_bias": True,
                   "layer_norm_eps": 1e-12}, f, indent=2)
    case("hf_vit16_224", "hf_vit16", hf_vit, 2, 224)
    case("hf_vit16_320", "hf_vit16", hf_vit, 1, 320)

    # Hugging Face Dinov2Model (facebook/dinov2-small layout): image_size 518 used at 224
    hf_v2 = VisionTransformer(14, 37, "scale-offset", layer_scale=True, mask_token=True).eval()
    randomise(hf_v2, 11)
    folder = os.path.join(out_dir, "hf_dinov2_14")
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      to_hf(hf_v2.state_dict(), "dinov2"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["Dinov2Model"], "model_type": "dinov2", "hidden_size": DIM,
                   "num_hidden_layers": DEPTH, "num_attention_heads": HEADS, "mlp_ratio": 4,
                   "hidden_act": "gelu", "image_size": 518, "patch_size": 14,
                   "num_channels": 3, "qkv_bias": True, "layerscale_value": 1.0,
                   "use_swiglu_ffn": False, "layer_norm_eps": 1e-6}, f, indent=2)
    case("hf_dinov2_14_224", "hf_dinov2_14", hf_v2, 2, 224)

    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"queries": QUERIES, "cases": manifest}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
