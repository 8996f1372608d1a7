import { assertEquals } from "../helpers/assert.ts";
import { contactSheet } from "../../src/curate/contact_sheet.ts";

Deno.test("contactSheet: one line per group, gray grown to RGB, the first cell framed", async () => {
  // image id i: a 2 x 2 gray image of value 10 * (i + 1)
  const image = (id: number) => ({
    image: new Uint8Array(4).fill(10 * (id + 1)),
    height: 2,
    width: 2,
    channels: 1,
    label: 0,
  });
  const sheet = await contactSheet([[0, 1, 2], [3]], image, { cell: 4, gap: 1, perLine: 2 });
  assertEquals([sheet.width, sheet.height], [1 + 2 * 5, 1 + 2 * 5]);
  const at = (x: number, y: number) =>
    Array.from(sheet.pixels.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3));
  assertEquals(at(1, 1), [220, 30, 30]); // frame of line 0, cell 0
  assertEquals(at(2, 2), [10, 10, 10]); // inside image 0
  assertEquals(at(7, 2), [20, 20, 20]); // image 1 (image 2 is past perLine)
  assertEquals(at(7, 7), [255, 255, 255]); // line 1 has one image
  assertEquals(at(2, 7), [40, 40, 40]); // image 3
});
