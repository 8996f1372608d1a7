import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { loadImageFolder } from "../../src/data/image_folder.ts";
import { encodePng } from "../../src/io/image.ts";

const FIXTURES = new URL("../fixtures/images/", import.meta.url);

Deno.test("image folder: classes from subfolders, corrupt files skipped and reported", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/cat`);
    await Deno.mkdir(`${root}/dog`);
    const red = new Uint8Array(4 * 4 * 3).map((_, i) => (i % 3 === 0 ? 200 : 10));
    await Deno.writeFile(`${root}/cat/a.png`, encodePng(red, 4, 4));
    await Deno.writeFile(`${root}/cat/b.PNG`, encodePng(new Uint8Array(8 * 6 * 3).fill(90), 8, 6));
    await Deno.writeFile(`${root}/cat/notes.txt`, new TextEncoder().encode("not an image"));
    const good = encodePng(new Uint8Array(4 * 4 * 3).fill(30), 4, 4);
    await Deno.writeFile(`${root}/dog/broken.png`, good.subarray(0, good.length - 20));
    await Deno.writeFile(`${root}/dog/fake.jpg`, new TextEncoder().encode("hello"));
    await Deno.copyFile(new URL("quadrants.jpg", FIXTURES), `${root}/dog/q.jpeg`);

    const folder = await loadImageFolder(root);
    assertEquals(folder.classNames, ["cat", "dog"]);
    assertEquals(folder.paths, [`${root}/cat/a.png`, `${root}/cat/b.PNG`, `${root}/dog/q.jpeg`]);
    assertEquals(Array.from(folder.dataset.arrays.labels), [0, 0, 1]);
    assertEquals([folder.dataset.height, folder.dataset.width, folder.dataset.channels], [4, 4, 3]);
    assertEquals(folder.resized, 2); // 8x6 PNG and 16x16 JPEG brought to the first image's 4x4
    assertEquals(folder.dataset.get(0).image, red);
    assertEquals(folder.dataset.get(1).image, new Uint8Array(48).fill(90));
    assertEquals(folder.skipped.map((s) => s.path), [
      `${root}/dog/broken.png`,
      `${root}/dog/fake.jpg`,
    ]);
    assertTrue(folder.skipped[0].reason.includes("PNG"), folder.skipped[0].reason);
    assertTrue(folder.skipped[1].reason.includes("unknown image format"), folder.skipped[1].reason);

    const sized = await loadImageFolder(root, { size: [2, 3] });
    assertEquals([sized.dataset.height, sized.dataset.width], [2, 3]);
    assertEquals(sized.resized, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("image folder: no classes or no loadable image is an error naming the folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadImageFolder(root), Error, "no class subfolders");
    await Deno.mkdir(`${root}/only`);
    await Deno.writeFile(`${root}/only/x.png`, new Uint8Array([1, 2, 3]));
    await assertRejects(() => loadImageFolder(root), Error, "no loadable image");
    await assertRejects(() => loadImageFolder(`${root}/missing`), Error, `${root}/missing`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
