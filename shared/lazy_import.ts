/**
 * A module loaded on first use, for what only some requests need (a worker's boot then
 * does not evaluate it): the load is shared while it runs and once it succeeded; a failed
 * load is forgotten, so the next use tries again. `failure` turns a load's error into the
 * error its callers get (default: the error itself).
 * @module
 */

/**
 * @example
 * const loadDiff = lazyImport(() => import("./text_diff.ts"));
 * const { diffTexts } = await loadDiff();
 */
export function lazyImport<T>(
  load: () => Promise<T>,
  failure: (error: unknown) => Error = (error) =>
    error instanceof Error ? error : new Error(String(error)),
): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () => {
    loading ??= load().catch((error) => {
      loading = null;
      throw failure(error);
    });
    return loading;
  };
}
