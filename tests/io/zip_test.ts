import { assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";
import { crc32, readEntry, readEntrySync, readZip } from "../../src/io/zip.ts";

const FIXTURES = new URL("../fixtures/checkpoints/", import.meta.url);
const stored = await Deno.readFile(new URL("state_dict.pth", FIXTURES));

Deno.test("zip: crc32 of the check string", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("zip: lists torch.save's entries and reads stored ones without copying", () => {
  const archive = readZip(stored);
  const names = [...archive.entries.keys()];
  assertEquals(names.includes("state_dict/data.pkl"), true);
  assertEquals(names.includes("state_dict/version"), true);
  assertEquals(names.filter((name) => name.startsWith("state_dict/data/")).length, 13);
  const version = readEntrySync(archive, "state_dict/version");
  assertEquals(new TextDecoder().decode(version).trim(), "3");
  assertEquals(version.buffer, stored.buffer);
  const pickle = readEntrySync(archive, "state_dict/data.pkl");
  assertEquals([pickle[0], pickle[1], pickle[pickle.length - 1]], [0x80, 2, 0x2e]);
});

Deno.test("zip: ZIP64 and deflated archives hold the same bytes", async () => {
  const archive = readZip(stored);
  for (const file of ["state_dict_zip64.pth", "state_dict_deflate.pth"]) {
    const other = readZip(await Deno.readFile(new URL(file, FIXTURES)));
    assertEquals([...other.entries.keys()].sort(), [...archive.entries.keys()].sort(), file);
    for (const name of archive.entries.keys()) {
      assertEquals(await readEntry(other, name), readEntrySync(archive, name), `${file} ${name}`);
    }
  }
  const deflated = readZip(await Deno.readFile(new URL("state_dict_deflate.pth", FIXTURES)));
  assertEquals(deflated.entries.get("state_dict/data.pkl")!.method, 8);
  assertThrows(() => readEntrySync(deflated, "state_dict/data.pkl"), CheckpointError, "compressed");
});

Deno.test("zip: truncated and corrupt archives say what failed", async () => {
  assertThrows(() => readZip(stored.subarray(0, 10)), CheckpointError, "too short");
  assertThrows(
    () => readZip(stored.subarray(0, stored.length - 30)),
    CheckpointError,
    "end of central directory record not found",
  );
  assertThrows(() => readZip(new Uint8Array(4000)), CheckpointError, "end of central directory");
  const archive = readZip(stored);
  assertThrows(() => readEntrySync(archive, "nope"), CheckpointError, `entry "nope" not found`);
  const corrupt = stored.slice();
  const entry = archive.entries.get("state_dict/data/0")!;
  const header = new DataView(stored.buffer, entry.localHeaderOffset);
  const dataStart = entry.localHeaderOffset + 30 + header.getUint16(26, true) +
    header.getUint16(28, true);
  corrupt[dataStart + 5] ^= 0xff;
  const damaged = readZip(corrupt);
  await assertRejects(() => readEntry(damaged, "state_dict/data/0"), CheckpointError, "CRC-32");
  const moved = stored.slice();
  moved[entry.localHeaderOffset] = 0;
  assertThrows(
    () => readEntrySync(readZip(moved), "state_dict/data/0"),
    CheckpointError,
    "local header missing",
  );
});
