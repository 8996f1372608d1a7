// `dinogpu bench data`: images/s and peak RSS of the streaming data path on a small folder; an
// in-memory source is refused in one line.
import jpeg from "jpeg-js";
import { benchData } from "../../cli/commands/bench_data.ts";
import { UserError } from "../../cli/run.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";

Deno.test({
  name: "bench data: images/s and peak RSS of decode + crops, no model",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir();
    try {
      for (let i = 0; i < 12; i++) {
        const [width, height] = [40 + i * 3, 30 + i * 2];
        const data = new Uint8Array(width * height * 4).map((_, k) => (k * 3 + i) & 255);
        await Deno.writeFile(
          `${root}/${i}.jpg`,
          new Uint8Array(jpeg.encode({ data, width, height }, 80).data),
        );
      }
      const result = await benchData({
        data: `folder:${root}`,
        workers: 1,
        batchSize: 4,
        images: 8,
        localCrops: 1,
      });
      assertEquals([result.images_timed, result.crops, result.workers], [8, "2x224 + 1x96", 1]);
      assertTrue((result.images_per_second as number) > 0, JSON.stringify(result));
      assertTrue((result.peak_rss_bytes as number) > 1e6, JSON.stringify(result));
      await assertRejects(() => benchData({ data: "synthetic:20" }), UserError, "in memory");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
