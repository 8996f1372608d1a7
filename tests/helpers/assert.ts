/**
 * The assertions tests use, in @std/assert's names, built on `node:assert` (JSR is not
 * reachable here).
 * @module
 */
import assert from "node:assert";

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** Asserts `condition` holds. */
export function assertTrue(condition: unknown, message?: string): asserts condition {
  assert.ok(condition, message);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function checkError(error: unknown, errorClass?: ErrorClass, includes?: string): Error {
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
  const { name, message } = error;
  if (errorClass && !(error instanceof errorClass)) {
    throw new Error(`expected ${errorClass.name}, got ${name}: ${message}`);
  }
  if (includes && !error.message.includes(includes)) {
    throw new Error(`expected the error message to include "${includes}", got: ${error.message}`);
  }
  return error;
}

/** Asserts that `body` throws (an instance of `errorClass` whose message includes `includes`). */
export function assertThrows(
  body: () => unknown,
  errorClass?: ErrorClass,
  includes?: string,
): Error {
  try {
    body();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new Error("expected the function to throw, it did not");
}

/** Asserts that `body` rejects (an instance of `errorClass` whose message includes `includes`). */
export async function assertRejects(
  body: () => Promise<unknown>,
  errorClass?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await body();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new Error("expected the promise to reject, it resolved");
}
