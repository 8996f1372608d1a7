#!/usr/bin/env python3
"""Writes the end-to-end crop fixture of the streaming data path to tests/fixtures/crop_jpeg/:
a photo-like 4:2:0 JPEG (photo.jpg, 411 x 287) and what torchvision makes of it on a PIL image (Pillow's
decode, then `F.resized_crop(..., InterpolationMode.BICUBIC)`) for fixed boxes, shrinking and
enlarging (photo_crops.json, outputs as base64 RGB bytes). dinogpu's workers decode the same file with their own decoder and
resize with src/data/pil_resize.ts; tests/data/jpeg_crop_test.ts wants them within 2/255.

Usage (Debian's python3-torchvision and python3-pil): /usr/bin/python3 tools/make_jpeg_crop_fixtures.py
"""
import base64
import json
import math
import os

import PIL
import torchvision
import torchvision.transforms.functional as F
from PIL import Image, ImageDraw
from torchvision.transforms import InterpolationMode

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "fixtures", "crop_jpeg")
WIDTH, HEIGHT = 411, 287
BOXES = [  # name, top, left, height, width, output side
    ("shrink_strong", 10, 20, 260, 300, 112),
    ("shrink", 100, 150, 120, 140, 48),
    ("enlarge", 30, 40, 30, 36, 48),
    ("mixed", 0, 0, 100, 180, 112),
]


def photo():
    image = Image.new("RGB", (WIDTH, HEIGHT))
    pixels = image.load()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            noise = (x * 73856093 ^ y * 19349663) % 23
            pixels[x, y] = (int(255 * x / WIDTH) ^ noise, int(255 * y / HEIGHT),
                            int(128 + 100 * math.sin(x / 13 + y / 29)))
    draw = ImageDraw.Draw(image)
    draw.ellipse([60, 40, 200, 180], fill=(200, 40, 30))
    draw.rectangle([250, 120, 380, 260], fill=(20, 160, 220))
    return image


def main():
    os.makedirs(TARGET, exist_ok=True)
    path = os.path.join(TARGET, "photo.jpg")
    photo().save(path, quality=90, subsampling=2)
    decoded = Image.open(path).convert("RGB")
    crops = []
    for name, top, left, height, width, side in BOXES:
        out = F.resized_crop(decoded, top, left, height, width, [side, side],
                             InterpolationMode.BICUBIC)
        crops.append({"name": name, "box": {"top": top, "left": left, "height": height,
                                            "width": width}, "size": side,
                      "output": base64.b64encode(out.tobytes()).decode()})
    with open(os.path.join(TARGET, "photo_crops.json"), "w") as file:
        json.dump({"pillow": PIL.__version__, "torchvision": torchvision.__version__,
                   "file": "photo.jpg", "crops": crops}, file)


if __name__ == "__main__":
    main()
