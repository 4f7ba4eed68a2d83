/**
 * What the operators' handlers share: their dependencies (built once by `createApp`), the
 * 404 of an id that names nothing, and the save-time checks of a write (the API's rules
 * first, the database's constraints as the last line, both answered as field errors). The
 * OpenAPI parts of the routes are in ../openapi_parts.ts.
 * @module
 */
import type { Config } from "../../../shared/config.ts";
import type { JobService } from "../../../shared/jobs/types.ts";
import { type FieldError, InvalidFieldsError } from "../../../shared/operators/rules.ts";
import type { ResolveHost } from "../../../shared/pipeline/address_guard.ts";
import type { BrowserSeam } from "../../../shared/pipeline/browser_fetcher.ts";
import type { AlertStore } from "../../../shared/alerts/types.ts";
import { constraintFieldError } from "../../../shared/store/db_error.ts";
import type { FeedTokenStore } from "../../../shared/store/feed_token_store.ts";
import type { HistoryStore } from "../../../shared/store/history_store.ts";
import type { SourceStore } from "../../../shared/store/source_store.ts";
import type { SubscriptionStore } from "../../../shared/store/subscription_store.ts";
import type { Clock, FetchFn, Logger } from "../../../shared/types.ts";
import { ApiError } from "../errors.ts";

/** Dependencies of the operators' routes. */
export interface OperatorDeps {
  logger: Logger;
  clock: Clock;
  jobs: JobService;
  /** Every tuning variable: the pipeline's and the alerts' (preview, test alerts, policy). */
  config: Config;
  /** HTTP client of previews, test alerts and retries. */
  fetch: FetchFn;
  /** Resolver of the address guard (default: the runtime's DNS). */
  resolveHost?: ResolveHost;
  sources: SourceStore;
  subscriptions: SubscriptionStore;
  history: HistoryStore;
  feedTokens: FeedTokenStore;
  /** The browser of `render: "browser"` previews. */
  browser?: BrowserSeam;
  /** The alert outbox: signing of test alerts, delivery of retried alerts. */
  alerts: AlertStore;
}

/** The 404 of an `id` that no `noun` has: `Cannot find source <id>`. */
export function notFoundError(noun: string, id: string): ApiError {
  return new ApiError(404, "not_found", `Cannot find ${noun} ${id}`);
}

/**
 * `value`, or the {@link notFoundError} of a `noun` that no row has `id`.
 * @example
 * const source = found("source", id, await deps.sources.get(id));
 */
export function found<T>(noun: string, id: string, value: T | null): T {
  if (value === null) throw notFoundError(noun, id);
  return value;
}

/**
 * Runs a store write; a constraint the database enforces (the last line behind the API's
 * rules) becomes a 400 with the field, never the database's text.
 */
export async function saving<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const field = constraintFieldError(error);
    if (field !== null) throw new InvalidFieldsError([field]);
    throw error;
  }
}

/**
 * A checked write: the 400 of the rules' `errors` when there are any (nothing is written),
 * else the write through {@link saving}.
 * @example
 * const created = await savingChecked(await sourceFieldErrors(body, rules), () =>
 *   deps.sources.create(body));
 */
export async function savingChecked<T>(
  errors: readonly FieldError[],
  write: () => Promise<T>,
): Promise<T> {
  refuse(errors);
  return await saving(write);
}

/** Throws the 400 of `errors` when there are any. */
export function refuse(errors: readonly FieldError[]): void {
  if (errors.length > 0) throw new InvalidFieldsError([...errors]);
}
