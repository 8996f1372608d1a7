/**
 * ImageNet normalisation, used by DINO and DINOv2 for training and evaluation alike.
 * @module
 */

/** ImageNet channel means (RGB). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];
