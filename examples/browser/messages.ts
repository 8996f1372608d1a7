/**
 * What the page tells the person: the status line with its progress bar, and the error box, which
 * says what failed, then why.
 * @module
 */
/// <reference lib="dom" />

/** A failure shown to the person: what failed (a sentence), then why (the library's reason). */
export class PageError extends Error {
  /** Creates the error. */
  constructor(readonly what: string, readonly why: string) {
    super(`${what}: ${why}`);
  }
}

/** The reason of an error, without the file name the library puts first. */
export function reason(error: unknown, name: string): string {
  const message = (error as Error)?.message ?? String(error);
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}

/** Writes the status line; `fraction` sets the progress bar (undefined: busy, no fraction). */
export function say(text: string, fraction?: number): void {
  const progress = document.getElementById("progress") as HTMLProgressElement;
  document.getElementById("status")!.textContent = text;
  if (fraction === undefined) progress.removeAttribute("value");
  else progress.value = fraction;
}

/** Shows `error` in the error box (what failed, then why); returns its text. */
export function showError(error: unknown): string {
  const box = document.getElementById("error")!;
  const what = error instanceof PageError ? error.what : "Something failed";
  const why = error instanceof PageError ? error.why : (error as Error)?.message ?? String(error);
  const strong = document.createElement("strong");
  strong.textContent = `${what}.`;
  const because = document.createElement("span");
  because.className = "why";
  because.textContent = `Why: ${why}`;
  box.replaceChildren(strong, because);
  box.hidden = false;
  say("Stopped: see the message below.", 0);
  console.warn(`${what}: ${why}`);
  return `${what}: ${why}`;
}

/** Hides the error box. */
export function hideError(): void {
  document.getElementById("error")!.hidden = true;
}
