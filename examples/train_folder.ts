/**
 * DINO on a folder of images (one subfolder per class; the classes are used only to report k-NN
 * accuracy): the small-data recipe, a few epochs, then the teacher's k-NN accuracy before and
 * after, and the checkpoint folder (readable by `dinogpu knn --weights` and `dinogpu embed`).
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env examples/train_folder.ts photos/ [EPOCHS] [SIZE]
 * ```
 * @module
 */
import {
  DINO_DEFAULTS,
  initGpu,
  loadDataSpec,
  resolveConfig,
  runDinoTraining,
  smallDataConfig,
} from "../mod.ts";

if (import.meta.main) {
  const [folder, epochs = "3", size = "32"] = Deno.args;
  if (!folder) {
    console.error("usage: train_folder.ts FOLDER [EPOCHS] [SIZE]");
    Deno.exit(2);
  }
  await initGpu();
  const imageSize = Number(size);
  const data = await loadDataSpec(`folder:${folder}`, { folderSize: imageSize });
  if (data.skipped.length) console.error(`skipped ${data.skipped.length} unreadable images`);
  const config = resolveConfig(DINO_DEFAULTS, smallDataConfig(imageSize), {
    epochs: Number(epochs),
    batchSize: Math.min(32, data.train.length),
    out: "runs/train_folder",
  });
  const result = await runDinoTraining({
    config,
    train: data.train,
    test: data.test,
    onMessage: (message) => console.error(message),
  });
  console.log(
    `knn_top1 before=${result.knnBefore?.toFixed(2)} after=${result.knnAfter?.toFixed(2)} ` +
      `checkpoint=${result.checkpoint}`,
  );
}
