"""Writes a folder of JPEGs of mixed sizes and aspects, for measuring the streaming data path.

Usage: python3 tools/make_image_folder.py OUT COUNT [--classes N] [--seed S]

Sides are uniform in 300-800 px (independently, so aspects vary); the content is a smooth
gradient with a few discs and mild noise (compresses like a photo), quality 90. With --classes N
(default 0: a flat folder) the images go to OUT/class_000 ... OUT/class_{N-1}.
"""
import argparse
import os
import random

import numpy as np
from PIL import Image, ImageDraw


BASES = []


def base(rng: random.Random) -> Image.Image:
    """One of 16 noisy 800 x 800 gradients, made on first use."""
    if not BASES:
        y, x = np.mgrid[0:800, 0:800].astype(np.float32)
        for k in range(16):
            noise = np.random.default_rng(k).normal(0, 6, (800, 800, 3))
            planes = [255 * x / 800, 255 * y / 800, 128 + 100 * np.sin(x / (11 + k) + y / 23)]
            picture = np.clip(np.stack(planes, -1) + noise, 0, 255).astype(np.uint8)
            BASES.append(Image.fromarray(picture))
    return BASES[rng.randrange(len(BASES))]


def image(rng: random.Random, width: int, height: int) -> Image.Image:
    left, top = rng.randint(0, 800 - width), rng.randint(0, 800 - height)
    picture = base(rng).crop((left, top, left + width, top + height))
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.25) * min(width, height)
        color = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
    return picture


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("count", type=int)
    parser.add_argument("--classes", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # a few distinct pictures re-encoded at many sizes would be faster, but every file is its own
    for i in range(args.count):
        folder = args.out if args.classes == 0 else f"{args.out}/class_{i % args.classes:03d}"
        os.makedirs(folder, exist_ok=True)
        width, height = rng.randint(300, 800), rng.randint(300, 800)
        image(rng, width, height).save(f"{folder}/{i:06d}.jpg", quality=90)


if __name__ == "__main__":
    main()
