/**
 * A progress bar on stderr for long commands: label, count/total, rate, ETA and extra fields
 * (loss, epoch, ...). On a terminal it redraws one line in place with `\r`; otherwise (a log
 * file, CI) it prints a whole line every `everyPercent` percent, so logs stay readable.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar({ label: "features", total: 1000, unit: "img" });
 * bar.update(500, { loss: 0.5 });
 * bar.finish();
 * ```
 * @module
 */

/** Where the bar writes (stderr by default) and whether that is a terminal. */
export interface ProgressSink {
  /** Writes text as is. */
  write(text: string): void;
  /** Whether the sink is an interactive terminal (redraw in place). */
  isTerminal: boolean;
}

/** Options of `ProgressBar`. */
export interface ProgressOptions {
  /** What is counted ("train features", "epoch 3"). */
  label: string;
  /** Count at which the work is done (0 or unknown: no percentage, no ETA). */
  total: number;
  /** Unit of the count, for the rate ("img" gives "123.4 img/s"); default "it". */
  unit?: string;
  /** Count already done when the bar starts (a resumed run): the rate and ETA count only the work
   * after it; default 0. */
  initial?: number;
  /** Off a terminal: print a line each time this many more percent are done; default 10. */
  everyPercent?: number;
  /** Width of the bar in characters on a terminal; default 24. */
  width?: number;
  /** Where to write; default stderr. */
  sink?: ProgressSink;
  /** Clock in milliseconds; default `performance.now`. */
  now?: () => number;
  /** Print nothing at all (for `--quiet` or JSON output); default false. */
  silent?: boolean;
}

/** Extra fields shown after the count: numbers get 4 significant digits. */
export type ProgressFields = Record<string, number | string | undefined>;

/** The default sink: stderr, a terminal when `Deno.stderr.isTerminal()`. */
export function stderrSink(): ProgressSink {
  const encoder = new TextEncoder();
  return {
    write(text: string) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
    },
    isTerminal: Deno.stderr.isTerminal(),
  };
}

/** Formats seconds as `12s`, `3m05s` or `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

function formatValue(value: number | string): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return String(value);
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e5
    ? String(Number(value.toPrecision(4)))
    : value.toExponential(3);
}

/** A progress bar; see the module doc. */
export class ProgressBar {
  readonly #options: Required<Omit<ProgressOptions, "sink" | "now" | "initial">>;
  readonly #sink: ProgressSink;
  readonly #now: () => number;
  readonly #start: number;
  readonly #initial: number;
  #done: number;
  #fields: ProgressFields = {};
  #lastPercentPrinted = -Infinity;
  #lastDraw = -Infinity;
  #drawnLength = 0;
  #finished = false;

  /** Creates the bar; nothing is printed until the first `update`. */
  constructor(options: ProgressOptions) {
    this.#options = {
      label: options.label,
      total: Math.max(0, options.total),
      unit: options.unit ?? "it",
      everyPercent: options.everyPercent ?? 10,
      width: options.width ?? 24,
      silent: options.silent ?? false,
    };
    this.#sink = options.sink ?? (this.#options.silent ? nullSink : stderrSink());
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#initial = Math.max(0, options.initial ?? 0);
    this.#done = this.#initial;
  }

  /** The count so far. */
  get done(): number {
    return this.#done;
  }

  /** Items per second since the start (not counting the initial count). */
  rate(): number {
    const seconds = (this.#now() - this.#start) / 1000;
    return seconds > 0 ? (this.#done - this.#initial) / seconds : 0;
  }

  /** The text of the current state, without `\r` or newline. */
  line(): string {
    const { label, total, unit, width } = this.#options;
    const parts = [label];
    const rate = this.rate();
    if (total > 0) {
      const fraction = Math.min(1, this.#done / total);
      if (this.#sink.isTerminal) {
        const filled = Math.round(fraction * width);
        parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}]`);
      }
      parts.push(`${this.#done}/${total}`, `${(fraction * 100).toFixed(0)}%`);
    } else {
      parts.push(`${this.#done}`);
    }
    parts.push(`${formatValue(Number(rate.toFixed(1)))} ${unit}/s`);
    if (total > 0 && !this.#finished) {
      parts.push(`ETA ${rate > 0 ? formatDuration((total - this.#done) / rate) : "?"}`);
    } else {
      parts.push(`in ${formatDuration((this.#now() - this.#start) / 1000)}`);
    }
    for (const [key, value] of Object.entries(this.#fields)) {
      if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
    }
    return parts.join(" ");
  }

  /** Sets the count to `done` (and merges `fields`), redrawing when due. */
  update(done: number, fields?: ProgressFields): void {
    this.#done = done;
    if (fields) this.#fields = { ...this.#fields, ...fields };
    if (this.#options.silent || this.#finished) return;
    if (this.#sink.isTerminal) {
      const now = this.#now();
      // at most ~10 redraws a second, but always the last one
      if (now - this.#lastDraw < 100 && done < this.#options.total) return;
      this.#lastDraw = now;
      this.#draw();
      return;
    }
    const { total, everyPercent } = this.#options;
    if (total <= 0) return;
    const percent = Math.min(100, (done / total) * 100);
    if (percent >= this.#lastPercentPrinted + everyPercent && percent < 100) {
      this.#lastPercentPrinted = Math.floor(percent / everyPercent) * everyPercent;
      this.#sink.write(this.line() + "\n");
    }
  }

  /** Adds `count` to the count. */
  tick(count = 1, fields?: ProgressFields): void {
    this.update(this.#done + count, fields);
  }

  /**
   * Prints `message` on a line of its own above the bar (on a terminal the bar's line is cleared
   * and drawn again below it), unless the bar is silent.
   */
  note(message: string): void {
    if (this.#options.silent) return;
    if (!this.#sink.isTerminal) {
      this.#sink.write(message + "\n");
      return;
    }
    this.#sink.write(`\r\x1b[K${message}\n`);
    this.#drawnLength = 0;
    if (this.#lastDraw > -Infinity && !this.#finished) this.#draw();
  }

  /** Prints the final state on its own line (once). */
  finish(fields?: ProgressFields): void {
    if (this.#finished) return;
    if (fields) this.#fields = { ...this.#fields, ...fields };
    this.#finished = true;
    if (this.#options.silent) return;
    if (this.#sink.isTerminal) {
      this.#draw();
      this.#sink.write("\n");
    } else {
      this.#sink.write(this.line() + "\n");
    }
  }

  #draw(): void {
    const text = this.line();
    const pad = Math.max(0, this.#drawnLength - text.length);
    this.#sink.write(`\r${text}${" ".repeat(pad)}`);
    this.#drawnLength = text.length;
  }
}

const nullSink: ProgressSink = { write() {}, isTerminal: false };
