#!/usr/bin/env python3
"""Writes the Pillow reference fixtures of resizeCropBicubic (src/data/pil_resize.ts) to
tests/fixtures/crop/: a generated 8-bit image, crop boxes, and what torchvision's
`F.resized_crop(image, top, left, height, width, size, InterpolationMode.BICUBIC)` makes of them
on a PIL image (Pillow's BICUBIC resize of the cropped box), shrinking, enlarging and mixed.

Usage (Debian's python3-torchvision and python3-pil): /usr/bin/python3 tools/make_crop_fixtures.py
"""
import json
import os

import PIL
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "fixtures", "crop")


def test_image(width, height, mode):
    """Gradients, a checkerboard and hashed noise: smooth areas and sharp edges."""
    channels = {"RGB": 3, "L": 1}[mode]
    data = bytearray()
    for y in range(height):
        for x in range(width):
            for c in range(channels):
                noise = (x * 73856093 ^ y * 19349663 ^ c * 83492791) % 61
                checker = 90 if ((x // 5 + y // 4) % 2) else 0
                value = (x * 255 // max(1, width - 1) * (c + 1) // channels + y * 3 + checker + noise) % 256
                data.append(value)
    return Image.frombytes(mode, (width, height), bytes(data))


def main():
    os.makedirs(TARGET, exist_ok=True)
    cases = [
        # (name, mode, image size, (top, left, height, width), (out height, out width))
        ("shrink_rgb", "RGB", (61, 53), (5, 7, 45, 50), (16, 20)),
        ("shrink_strong_rgb", "RGB", (61, 53), (0, 0, 53, 61), (9, 11)),
        ("enlarge_rgb", "RGB", (61, 53), (30, 40, 9, 13), (32, 29)),
        ("mixed_rgb", "RGB", (61, 53), (10, 3, 40, 12), (16, 40)),
        ("same_size_rgb", "RGB", (61, 53), (11, 17, 20, 30), (20, 30)),
        ("shrink_gray", "L", (64, 48), (3, 2, 41, 57), (14, 17)),
    ]
    for name, mode, (width, height), (top, left, box_height, box_width), (out_height, out_width) in cases:
        image = test_image(width, height, mode)
        crop = F.resized_crop(image, top, left, box_height, box_width, [out_height, out_width],
                              InterpolationMode.BICUBIC)
        assert crop.size == (out_width, out_height)
        direct = image.crop((left, top, left + box_width, top + box_height)).resize(
            (out_width, out_height), Image.BICUBIC)
        assert direct.tobytes() == crop.tobytes(), name
        fixture = {
            "name": name,
            "pillow": PIL.__version__,
            "torchvision": torchvision.__version__,
            "width": width,
            "height": height,
            "channels": len(mode) if mode != "L" else 1,
            "image": list(image.tobytes()),
            "box": {"top": top, "left": left, "height": box_height, "width": box_width},
            "outWidth": out_width,
            "outHeight": out_height,
            "output": list(crop.tobytes()),
        }
        with open(os.path.join(TARGET, f"{name}.json"), "w") as file:
            json.dump(fixture, file)
        print(f"{name}: {width}x{height} {mode}, box {box_width}x{box_height} -> {out_width}x{out_height}")


if __name__ == "__main__":
    main()
