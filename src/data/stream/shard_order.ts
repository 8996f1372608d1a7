/**
 * The order of an epoch over tar shards, as WebDataset streams them: the shards shuffled, then
 * their samples through a seeded shuffle buffer. A pure function of (seed, epoch), so a resumed
 * run continues at its position without saving the buffer.
 * @module
 */
import { SeededRandom } from "../augment_params.ts";
import { mixSeed, permutation } from "../dataset.ts";

/**
 * WebDataset's order of one epoch: the shards in a seeded random order, their samples streamed
 * through a shuffle buffer of `bufferSize` (each incoming sample replaces a random one, which is
 * emitted; the rest drained at the end in random order). A pure function of its arguments.
 */
export function shardOrder(
  shardStarts: Int32Array,
  seed: number,
  epoch: number,
  bufferSize: number,
): Int32Array {
  const shardCount = shardStarts.length - 1;
  const shards = permutation(shardCount, mixSeed(seed, epoch, 0x5a4d));
  const random = new SeededRandom(mixSeed(seed, epoch, 0xb0ff));
  const order = new Int32Array(shardStarts[shardCount]);
  const buffer: number[] = [];
  let out = 0;
  for (const shard of shards) {
    for (let sample = shardStarts[shard]; sample < shardStarts[shard + 1]; sample++) {
      if (buffer.length < bufferSize) {
        buffer.push(sample);
        continue;
      }
      const slot = random.integer(0, bufferSize);
      order[out++] = buffer[slot];
      buffer[slot] = sample;
    }
  }
  for (const index of random.permutation(buffer.length)) order[out++] = buffer[index];
  return order;
}
