/**
 * The crop pool's worker: runs each `CropJob` it is sent (./crop_job.ts) and answers with a
 * `CropReply`. Started by `CropPool` (./crop_pool.ts).
 * @module
 */
/// <reference lib="deno.worker" />
import { type CropJob, runCropJob } from "./crop_job.ts";

self.onmessage = async (event: MessageEvent<CropJob>) => {
  const reply = await runCropJob(event.data);
  self.postMessage(reply);
};
