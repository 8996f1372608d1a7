#!/usr/bin/python3
"""Writes tests/fixtures/models/dinov3: small random-weight DINOv3 ViTs in the two layouts people
download, and PyTorch's outputs for them on a square and a non-square image.

Run by hand with Debian's python3-torch (PyTorch 1.13; never in CI):

    /usr/bin/python3 tools/make_dinov3_fixtures.py

The reference modules re-implement, from reading them, the evaluation forward of
facebookresearch/dinov3 (models/vision_transformer.py, layers/rope_position_encoding.py,
attention.py, block.py, layer_scale.py, ffn_layers.py; hub/backbones.py's settings: RoPE base
100 in fp32, "separate" coordinates, LayerNorm eps 1e-5, LayerScale, 4 storage tokens, masked qkv
bias) and of transformers' DINOv3ViTModel (modeling_dinov3_vit.py: separate q/k/v/o projections,
no key bias, RoPE frequencies computed from rope_theta). PyTorch 1.13 has no
scaled_dot_product_attention: attention is softmax(q k^T / sqrt(d)) v written out.

Models: width 24, 2 heads (head size 12: 3 RoPE periods per axis), depth 2, patch 16; a GELU MLP
(ratio 4) or SwiGLU (ratio 4, hidden int(96 * 2 / 3) = 64). The official files store
`rope_embed.periods` in bf16 as releases do (the bf16 values differ from the computed ones, so the
test sees whether they are used) and a `bias_mask`: the
GELU model's is the official one (keys masked, with a non-zero stored key bias: with RoPE a key
bias changes the scores), the SwiGLU model's a random 0/1 mask (applied exactly as stored). The
Hugging Face folders are the same weights converted as transformers' convert_dinov3_vit_to_hf.py
does (qkv split, bias_mask and key bias dropped, keys renamed), with a config.json. To keep the
files small every weight is a bf16 value, stored as bf16 (.pth) and BF16 (safetensors); the
references compute in float32 from those values.

Per case, `<case>.expected.safetensors` holds `cls` [B, D], `storage` [B, 4, D], `mean_patch`
[B, D] (final-norm patch tokens averaged) and `cls_attention` [B, heads, N] (the last block's
softmax row of the CLS query over all N tokens); `manifest.json` lists the cases. Inputs are the
closed-form `pattern` that tests/nn/dinov3_test.ts recomputes.
"""
import collections
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import LayerScale, Mlp, output_folder, write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models", "dinov3")
DIM = 24
HEADS = 2
DEPTH = 2
STORAGE = 4
PATCH = 16
RATIO = 4
EPS = 1e-5
IMAGES = {"square": (2, 64, 64), "wide": (1, 48, 96)}  # batch, height, width


def pattern(batch, height, width):
    """The input images [B, 3, H, W] (float64 maths, then float32), as the test computes them."""
    b = torch.arange(batch, dtype=torch.float64).view(batch, 1, 1, 1)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    h = torch.arange(height, dtype=torch.float64).view(1, 1, height, 1)
    w = torch.arange(width, dtype=torch.float64).view(1, 1, 1, width)
    x = torch.sin(0.11 * h + 0.07 * w + 1.3 * c + 0.5 * b)
    return (x + 0.5 * torch.cos(0.013 * h * w / (1 + b) + 0.7 * c)).float()


def swiglu_hidden(hidden, align=8):
    """SwiGLUFFN's width for hidden_features = int(dim * ffn_ratio)."""
    d = int(hidden * 2 / 3)
    return d + (-d % align)


def attend(q, k, v):
    """softmax(q k^T / sqrt(d)) v and the probabilities (what SDPA computes)."""
    probabilities = ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(dim=-1)
    return probabilities @ v, probabilities


def rotate_half(x):
    return torch.cat([-x.chunk(2, dim=-1)[1], x.chunk(2, dim=-1)[0]], dim=-1)


def rope_apply_to_patches(q, k, sin, cos):
    """RoPE on the last HW tokens of q, k [B, heads, N, d] (the prefix tokens are left alone)."""
    prefix = q.shape[-2] - sin.shape[-2]
    rotate = lambda x: torch.cat(
        (x[:, :, :prefix], x[:, :, prefix:] * cos + rotate_half(x[:, :, prefix:]) * sin), dim=-2)
    return rotate(q), rotate(k)


def patch_centres(height, width):
    """Patch-centre coordinates [H W, 2] in [-1, 1] ("separate" normalisation, fp32)."""
    coords_h = torch.arange(0.5, height, dtype=torch.float32) / height
    coords_w = torch.arange(0.5, width, dtype=torch.float32) / width
    coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"), dim=-1).flatten(0, 1)
    return 2.0 * coords - 1.0


# ---------------------------------------------------------------- the official DINOv3 ViT
class RopePositionEmbedding(nn.Module):
    def __init__(self, dim, heads, base=100.0):
        super().__init__()
        head = dim // heads  # periods base ** (2 i / (D / 2)), i < D / 4, in fp32
        self.register_buffer("periods", base ** (2 * torch.arange(head // 4.0) / (head // 2)))

    def forward(self, height, width):
        coords = patch_centres(height, width)
        angles = 2 * math.pi * coords[:, :, None] / self.periods[None, None, :]  # [HW, 2, d/4]
        angles = angles.flatten(1, 2).tile(2)  # [HW, d]
        return torch.sin(angles), torch.cos(angles)


class LinearKMaskedBias(nn.Linear):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("bias_mask", torch.ones_like(self.bias))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias * self.bias_mask.to(self.bias.dtype))


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = LinearKMaskedBias(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, rope):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads)
        q, k, v = [t.transpose(1, 2) for t in torch.unbind(qkv, 2)]
        q, k = rope_apply_to_patches(q, k, *rope)
        out, probabilities = attend(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, N, C)), probabilities


class SwiGLUFFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        hidden = swiglu_hidden(hidden)
        self.w1 = nn.Linear(dim, hidden)
        self.w2 = nn.Linear(dim, hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class Block(nn.Module):
    def __init__(self, dim, heads, swiglu):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = SelfAttention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = (SwiGLUFFN if swiglu else Mlp)(dim, int(dim * RATIO))
        self.ls2 = LayerScale(dim)

    def forward(self, x, rope):
        y, probabilities = self.attn(self.norm1(x), rope)
        x = x + self.ls1(y)
        return x + self.ls2(self.mlp(self.norm2(x))), probabilities


class PatchEmbed(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x):
        x = self.proj(x)  # B C H W
        return x.flatten(2).transpose(1, 2), x.shape[2], x.shape[3]


class DinoVisionTransformer(nn.Module):
    def __init__(self, swiglu):
        super().__init__()
        self.patch_embed = PatchEmbed(DIM)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.storage_tokens = nn.Parameter(torch.zeros(1, STORAGE, DIM))
        self.rope_embed = RopePositionEmbedding(DIM, HEADS)
        self.blocks = nn.ModuleList([Block(DIM, HEADS, swiglu) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=EPS)
        self.mask_token = nn.Parameter(torch.zeros(1, DIM))

    def forward(self, images):
        x, H, W = self.patch_embed(images)
        B = x.shape[0]
        cls_token = self.cls_token + 0 * self.mask_token
        x = torch.cat([cls_token.expand(B, -1, -1), self.storage_tokens.expand(B, -1, -1), x], 1)
        for block in self.blocks:
            x, probabilities = block(x, self.rope_embed(H, W))
        x = self.norm(x)
        return x[:, 0], x[:, 1:1 + STORAGE], x[:, 1 + STORAGE:], probabilities


# ---------------------------------------------------------------- transformers' DINOv3ViTModel
class HfModel(nn.Module):
    """DINOv3ViTModel's forward on its own state dict (the names are what loading must map)."""

    def __init__(self, state, config):
        super().__init__()
        self.state = state
        self.config = config
        head = config["hidden_size"] // config["num_attention_heads"]
        exponents = torch.arange(0, 1, 4 / head, dtype=torch.float32)
        self.inv_freq = 1 / config["rope_theta"] ** exponents

    def linear(self, x, name):
        return F.linear(x, self.state[name + ".weight"], self.state.get(name + ".bias"))

    def norm(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.state[name + ".weight"],
                            self.state[name + ".bias"], self.config["layer_norm_eps"])

    def forward(self, images):
        s, config = self.state, self.config
        heads = config["num_attention_heads"]
        x = F.conv2d(images, s["embeddings.patch_embeddings.weight"],
                     s["embeddings.patch_embeddings.bias"], stride=config["patch_size"])
        H, W = x.shape[2], x.shape[3]
        x = x.flatten(2).transpose(1, 2)
        B = x.shape[0]
        x = torch.cat([s["embeddings.cls_token"].expand(B, -1, -1),
                       s["embeddings.register_tokens"].expand(B, -1, -1), x], dim=1)
        angles = 2 * math.pi * patch_centres(H, W)[:, :, None] * self.inv_freq[None, None, :]
        angles = angles.flatten(1, 2).tile(2)
        rope = (torch.sin(angles), torch.cos(angles))
        for i in range(config["num_hidden_layers"]):
            p = f"layer.{i}."
            h = self.norm(x, p + "norm1")
            N = h.shape[1]
            q, k, v = [
                self.linear(h, p + f"attention.{n}_proj").view(B, N, heads, -1).transpose(1, 2)
                for n in "qkv"]
            q, k = rope_apply_to_patches(q, k, *rope)
            out, probabilities = attend(q, k, v)
            out = self.linear(out.transpose(1, 2).reshape(B, N, -1), p + "attention.o_proj")
            x = x + out * s[p + "layer_scale1.lambda1"]
            h = self.norm(x, p + "norm2")
            if config["use_gated_mlp"]:
                h = F.silu(self.linear(h, p + "mlp.gate_proj")) * self.linear(h, p + "mlp.up_proj")
            else:
                h = F.gelu(self.linear(h, p + "mlp.up_proj"))
            x = x + self.linear(h, p + "mlp.down_proj") * s[p + "layer_scale2.lambda1"]
        x = self.norm(x, "norm")
        return x[:, 0], x[:, 1:1 + STORAGE], x[:, 1 + STORAGE:], probabilities


def to_hf(state):
    """convert_dinov3_vit_to_hf.py's conversion: qkv split, bias_mask and key bias dropped."""
    out = collections.OrderedDict()
    out["embeddings.cls_token"] = state["cls_token"]
    out["embeddings.mask_token"] = state["mask_token"].reshape(1, 1, DIM)
    out["embeddings.register_tokens"] = state["storage_tokens"]
    out["embeddings.patch_embeddings.weight"] = state["patch_embed.proj.weight"]
    out["embeddings.patch_embeddings.bias"] = state["patch_embed.proj.bias"]
    names = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.o_proj",
             "mlp.fc1": "mlp.up_proj", "mlp.fc2": "mlp.down_proj", "mlp.w1": "mlp.gate_proj",
             "mlp.w2": "mlp.up_proj", "mlp.w3": "mlp.down_proj"}
    for i in range(DEPTH):
        src, dst = f"blocks.{i}.", f"layer.{i}."
        for part, chunk in zip("qkv", state[src + "attn.qkv.weight"].chunk(3, dim=0)):
            out[f"{dst}attention.{part}_proj.weight"] = chunk.clone()
        for part, chunk in zip("qkv", state[src + "attn.qkv.bias"].chunk(3, dim=0)):
            if part != "k":
                out[f"{dst}attention.{part}_proj.bias"] = chunk.clone()
        for old, new in names.items():
            for leaf in ("weight", "bias"):
                if f"{src}{old}.{leaf}" in state:
                    out[f"{dst}{new}.{leaf}"] = state[f"{src}{old}.{leaf}"]
        out[f"{dst}layer_scale1.lambda1"] = state[src + "ls1.gamma"]
        out[f"{dst}layer_scale2.lambda1"] = state[src + "ls2.gamma"]
    out["norm.weight"] = state["norm.weight"]
    out["norm.bias"] = state["norm.bias"]
    return out


def hf_config(swiglu):
    return {"architectures": ["DINOv3ViTModel"], "model_type": "dinov3_vit",
            "hidden_size": DIM, "intermediate_size": swiglu_hidden(DIM * RATIO) if swiglu
            else DIM * RATIO, "num_hidden_layers": DEPTH, "num_attention_heads": HEADS,
            "hidden_act": "silu" if swiglu else "gelu", "layer_norm_eps": EPS,
            "rope_theta": 100.0, "image_size": 224, "patch_size": PATCH, "num_channels": 3,
            "query_bias": True, "key_bias": False, "value_bias": True, "proj_bias": True,
            "mlp_bias": True, "layerscale_value": 1.0, "drop_path_rate": 0.0,
            "use_gated_mlp": swiglu, "num_register_tokens": STORAGE, "pos_embed_shift": None,
            "pos_embed_jitter": None, "pos_embed_rescale": 2.0}


def randomise(model, seed, mask):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm1.weight", "norm2.weight")) or name == "norm.weight":
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
            elif name.endswith("gamma"):
                p.copy_(0.5 + 0.3 * torch.rand(p.shape, generator=generator))
            else:
                scale = 0.5 if "token" in name else 0.3
                p.copy_(scale * torch.randn(p.shape, generator=generator))
        for block in model.blocks:
            if mask == "official":  # init_weights_vit: ones, the key third zeroed
                block.attn.qkv.bias_mask.fill_(1)
                block.attn.qkv.bias_mask[DIM:2 * DIM] = 0
            else:
                block.attn.qkv.bias_mask.copy_(
                    (torch.rand(3 * DIM, generator=generator) < 0.6).float())
        # released checkpoints hold the periods in bf16; the model computes with those values.
        # The weights are stored in bf16 too (files of tens of KB): round them all.
        for value in list(model.parameters()) + list(model.buffers()):
            value.copy_(value.bfloat16().float())


def expected(outputs):
    cls, storage, patches, probabilities = [t.detach() for t in outputs]
    return collections.OrderedDict(
        cls=cls, storage=storage.contiguous(), mean_patch=patches.mean(dim=1),
        cls_attention=probabilities[:, :, 0, :].contiguous())


def main():
    out_dir = output_folder(__doc__, OUT)
    manifest = []
    models = (("gelu", False, 31, "official"), ("swiglu", True, 32, "random"))
    for kind, swiglu, seed, mask in models:
        model = DinoVisionTransformer(swiglu).eval()
        randomise(model, seed, mask)
        state = collections.OrderedDict((k, v.bfloat16()) for k, v in model.state_dict().items())
        pth = f"dinov3_{kind}.pth"
        torch.save(state, os.path.join(out_dir, pth))
        folder = f"hf_dinov3_{kind}"
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
        hf_state = to_hf(model.state_dict())
        write_safetensors(os.path.join(out_dir, folder, "model.safetensors"), hf_state, "BF16")
        config = hf_config(swiglu)
        with open(os.path.join(out_dir, folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        hf = HfModel(hf_state, config)
        for layout, weights, run in (("official", pth, model), ("hf", folder, hf)):
            for image, (batch, height, width) in IMAGES.items():
                name = f"dinov3_{kind}_{layout}_{image}"
                with torch.no_grad():
                    outputs = run(pattern(batch, height, width))
                write_safetensors(os.path.join(out_dir, f"{name}.expected.safetensors"),
                                  expected(outputs))
                manifest.append({"name": name, "weights": weights, "layout": layout,
                                 "feedForward": "swiglu" if swiglu else "mlp", "batch": batch,
                                 "height": height, "width": width, "heads": HEADS,
                                 "storage": STORAGE})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"cases": manifest}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
