/**
 * The one way to turn whatever was thrown into the text of a message.
 * @module
 */

/**
 * The message of a thrown value: `error.message` for an Error, its string otherwise.
 * @example
 * logger.error("Cannot read run {run_id}: {error}", { run_id, error: errorMessage(e) });
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Like {@link errorMessage}, prefixed with the error's name (`TypeError: …`) for bugs. */
export function namedErrorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
