import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";

function assertMatch(text: string, pattern: RegExp) {
  assert(pattern.test(text), `${JSON.stringify(text)} does not match ${pattern}`);
}
import { formatDuration, ProgressBar, type ProgressSink } from "../../cli/progress.ts";

function recorder(isTerminal: boolean): ProgressSink & { text: string } {
  const sink = {
    text: "",
    isTerminal,
    write(text: string) {
      sink.text += text;
    },
  };
  return sink;
}

Deno.test("formatDuration writes seconds, minutes and hours", () => {
  assertEquals(formatDuration(5.4), "5s");
  assertEquals(formatDuration(65), "1m05s");
  assertEquals(formatDuration(3720), "1h02m");
  assertEquals(formatDuration(Infinity), "?");
});

Deno.test("ProgressBar off a terminal prints the first update, a line every N percent, the final line", () => {
  let now = 0;
  const sink = recorder(false);
  const bar = new ProgressBar({
    label: "feat",
    total: 100,
    unit: "img",
    everyPercent: 25,
    sink,
    now: () => now,
  });
  for (let i = 1; i <= 100; i++) {
    now = i * 10; // 100 img/s
    bar.update(i, { loss: 1 / i });
  }
  bar.finish();
  const lines = sink.text.trim().split("\n");
  assertEquals(lines.length, 5, sink.text); // first update, 25%, 50%, 75%, final
  assert(!sink.text.includes("\r"));
  assertMatch(lines[1], /^feat 25\/100 25% 100 img\/s ETA 1s loss=0\.04$/);
  assertMatch(lines[4], /^feat 100\/100 100% 100 img\/s in 1s loss=0\.01$/);
});

Deno.test("ProgressBar on a terminal redraws in place with a bar", () => {
  let now = 0;
  const sink = recorder(true);
  const bar = new ProgressBar({ label: "epoch 1", total: 4, sink, now: () => now, width: 4 });
  now = 1000;
  bar.update(2, { loss: 2.5 });
  now = 2000;
  bar.update(4);
  bar.finish();
  assert(sink.text.startsWith("\repoch 1 [##--] 2/4 50% 2 it/s ETA 1s loss=2.5"), sink.text);
  assert(sink.text.includes("\repoch 1 [####] 4/4 100%"), sink.text);
  assert(sink.text.endsWith("\n"));
  assertEquals(sink.text.split("\n").length, 2);
});

Deno.test("ProgressBar silent prints nothing", () => {
  const sink = recorder(false);
  const bar = new ProgressBar({ label: "x", total: 10, sink, silent: true });
  bar.update(10);
  bar.finish();
  assertEquals(sink.text, "");
});

Deno.test("ProgressBar with an initial count (a resumed run) rates only the work after it", () => {
  let now = 0;
  const sink = recorder(false);
  const bar = new ProgressBar({
    label: "train",
    total: 1000,
    unit: "img",
    initial: 600,
    sink,
    now: () => now,
  });
  assertEquals(bar.done, 600);
  now = 10_000;
  bar.update(700);
  assertEquals(bar.rate(), 10);
  assertMatch(bar.line(), /^train 700\/1000 70% 10 img\/s ETA 30s$/);
});

Deno.test("ProgressBar.note prints a line above the bar and draws the bar again", () => {
  let now = 0;
  const terminal = recorder(true);
  const bar = new ProgressBar({ label: "t", total: 4, sink: terminal, now: () => now, width: 4 });
  bar.note("before any update");
  assertEquals(terminal.text, "\r\x1b[Kbefore any update\n");
  now = 1000;
  bar.update(2);
  terminal.text = "";
  bar.note("k-NN 50%");
  assertEquals(terminal.text, "\r\x1b[Kk-NN 50%\n\rt [##--] 2/4 50% 2 it/s ETA 1s");
  const file = recorder(false);
  const plain = new ProgressBar({ label: "t", total: 4, sink: file, now: () => now });
  plain.note("k-NN 50%");
  assertEquals(file.text, "k-NN 50%\n");
  const silent = recorder(true);
  new ProgressBar({ label: "t", total: 4, sink: silent, silent: true }).note("hidden");
  assertEquals(silent.text, "");
});
