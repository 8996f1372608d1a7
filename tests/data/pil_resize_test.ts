/**
 * resizeCropBicubic against Pillow: fixtures from tools/make_crop_fixtures.py (torchvision's
 * `F.resized_crop` with BICUBIC on a PIL image), shrinking, enlarging, mixed and same-size boxes,
 * RGB and grayscale.
 */
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { resizeCropBicubic } from "../../src/data/pil_resize.ts";

interface CropFixture {
  name: string;
  width: number;
  height: number;
  channels: number;
  image: number[];
  box: { top: number; left: number; height: number; width: number };
  outWidth: number;
  outHeight: number;
  output: number[];
}

const folder = new URL("../fixtures/crop/", import.meta.url);

Deno.test("resizeCropBicubic equals Pillow's BICUBIC resize of the crop", async () => {
  let count = 0;
  for await (const entry of Deno.readDir(folder)) {
    const fixture: CropFixture = JSON.parse(await Deno.readTextFile(new URL(entry.name, folder)));
    const image = {
      data: Uint8Array.from(fixture.image),
      width: fixture.width,
      height: fixture.height,
      channels: fixture.channels,
    };
    const result = resizeCropBicubic(image, fixture.box, fixture.outWidth, fixture.outHeight);
    assertEquals(result.length, fixture.output.length, fixture.name);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < result.length; i++) {
      const difference = Math.abs(result[i] - fixture.output[i]);
      worst = Math.max(worst, difference);
      if (difference > 0) differing++;
    }
    assertTrue(
      worst === 0,
      `${fixture.name}: ${differing} of ${result.length} bytes differ from Pillow (worst ${worst})`,
    );
    count++;
  }
  assertEquals(count, 6, "six fixtures");
});

Deno.test("resizeCropBicubic: a box outside the image is refused with the sizes", () => {
  const image = { data: new Uint8Array(10 * 8 * 3), width: 10, height: 8, channels: 3 };
  assertThrows(
    () => resizeCropBicubic(image, { top: 2, left: 5, height: 4, width: 6 }, 4, 4),
    RangeError,
    "box 5,2 6x4 -> 4x4 does not fit a 10x8 image",
  );
});
