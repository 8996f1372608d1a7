/**
 * The error of a configuration that cannot be used (src/train/validate.ts and the checks it calls).
 * @module
 */

/** Raised for a configuration that cannot be used; the message names the key and the values. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
