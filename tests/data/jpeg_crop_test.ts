// End to end against torchvision on a PIL image: a JPEG decoded by the workers' decoder and a
// fixed crop box resized by resizeCropBicubic are within 2/255 of Pillow's decode +
// F.resized_crop(BICUBIC), shrinking and enlarging (fixture: tools/make_jpeg_crop_fixtures.py).
import { resizeCropBicubic } from "../../src/data/pil_resize.ts";
import { decodeFast, fastDecoderName } from "../../src/data/stream/fast_decode.ts";
import { assertTrue } from "../helpers/assert.ts";

const FIXTURES = new URL("../fixtures/crop_jpeg/", import.meta.url);

interface CropFixture {
  name: string;
  box: { top: number; left: number; height: number; width: number };
  size: number;
  output: string;
}

Deno.test("jpeg crops: the workers' decode + bicubic resize is within 2/255 of PIL's", async () => {
  const bytes = await Deno.readFile(new URL("photo.jpg", FIXTURES));
  const { crops } = JSON.parse(await Deno.readTextFile(new URL("photo_crops.json", FIXTURES)));
  // the workers' decoder: sharp (libjpeg-turbo, as Pillow). The pure-JS fallback (jpeg-js)
  // upsamples chroma differently and lands up to ~12/255 away on this 4:2:0 file.
  const decoders = [[await fastDecoderName(), await decodeFast(bytes, 1e7)]] as const;
  for (const [decoder, image] of decoders) {
    for (const crop of crops as CropFixture[]) {
      const expected = Uint8Array.from(atob(crop.output), (char) => char.charCodeAt(0));
      const got = resizeCropBicubic({ ...image, channels: 3 }, crop.box, crop.size, crop.size);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      assertTrue(worst <= 2, `${decoder} ${crop.name}: largest difference ${worst}/255`);
      assertTrue(decoder === "sharp", "sharp did not load: the crops come from jpeg-js");
    }
  }
});
