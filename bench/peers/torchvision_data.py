#!/usr/bin/env python3
"""torchvision's DataLoader on the same files and crops as `dinogpu bench data`: PIL decode,
RandomResizedCrop on the original (2 x 224 px at scale (0.4, 1), N x 96 px at (0.05, 0.4)),
BICUBIC, as uint8 tensors (no normalisation: dinogpu normalises on the GPU), num_workers=2.
Prints one JSON object with images_per_second and peak_rss_bytes (this process and its workers).

Usage: /usr/bin/python3 bench/peers/torchvision_data.py DIR [--local-crops N] [--images N]
       [--batch-size N] [--workers N]
"""
import argparse
import json
import os
import resource
import time

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode


class Crops:
    """The views of one image, uint8 CHW tensors."""

    def __init__(self, local_crops: int):
        bicubic = InterpolationMode.BICUBIC
        to_tensor = transforms.PILToTensor()
        self.global_crop = transforms.Compose(
            [transforms.RandomResizedCrop(224, scale=(0.4, 1), interpolation=bicubic), to_tensor])
        self.local_crop = transforms.Compose(
            [transforms.RandomResizedCrop(96, scale=(0.05, 0.4), interpolation=bicubic), to_tensor])
        self.local_crops = local_crops

    def __call__(self, image):
        views = [self.global_crop(image), self.global_crop(image)]
        return views + [self.local_crop(image) for _ in range(self.local_crops)]


class Files(torch.utils.data.Dataset):
    """Every .jpg/.jpeg/.png under DIR (sorted), decoded by PIL as RGB."""

    def __init__(self, root: str, transform):
        self.paths = sorted(
            os.path.join(folder, name)
            for folder, _, names in os.walk(root)
            for name in names if name.lower().endswith((".jpg", ".jpeg", ".png")))
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        with open(self.paths[index], "rb") as file:
            image = Image.open(file).convert("RGB")
        return self.transform(image)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--local-crops", type=int, default=2)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = Files(args.root, Crops(args.local_crops))
    loader = torch.utils.data.DataLoader(
        data, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, drop_last=True)
    started = time.perf_counter()
    images, timed_from, first_batch = 0, None, None
    for batch in loader:
        if timed_from is None:  # one warm-up batch, as dinogpu bench data
            timed_from = time.perf_counter()
            first_batch = timed_from - started
            continue
        images += batch[0].shape[0]
        if images >= args.images:
            break
    seconds = time.perf_counter() - timed_from
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({
        "data": args.root,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "crops": f"2x224 + {args.local_crops}x96",
        "images_timed": images,
        "seconds": seconds,
        "images_per_second": images / seconds,
        "first_batch_seconds": first_batch,
        "peak_rss_bytes": own + children,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
