/**
 * What the operators' routes share: their dependencies (built once by `createApp`), the
 * OpenAPI response helpers and the translation of a refused write into field errors.
 * @module
 */
import type { z } from "zod";
import type { Config } from "../../../shared/config.ts";
import type { JobService } from "../../../shared/jobs/types.ts";
import { InvalidFieldsError } from "../../../shared/operators/rules.ts";
import type { ResolveHost } from "../../../shared/pipeline/address_guard.ts";
import type { BrowserSeam } from "../../../shared/pipeline/browser_fetcher.ts";
import type { AlertStore } from "../../../shared/alerts/types.ts";
import { constraintFieldError } from "../../../shared/store/db_error.ts";
import type { FeedTokenStore } from "../../../shared/store/feed_token_store.ts";
import type { HistoryStore } from "../../../shared/store/history_store.ts";
import type { SourceStore } from "../../../shared/store/source_store.ts";
import type { SubscriptionStore } from "../../../shared/store/subscription_store.ts";
import type { Clock, FetchFn, Logger } from "../../../shared/types.ts";
import { ErrorBodySchema } from "../../../shared/schemas.ts";

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

/** Name of the bearer security scheme in the OpenAPI document (see routes.ts). */
export const SECURITY = [{ BearerAuth: [] }];

/** `{ "application/json": { schema } }`. */
export const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** An error response of the OpenAPI document. */
export const errorResponse = (description: string) => ({
  description,
  content: json(ErrorBodySchema),
});

/** The responses every route behind the bearer check may give. */
export const AUTH_ERRORS = {
  401: errorResponse("Missing or invalid bearer token."),
  403: errorResponse("Valid token, but the caller is neither the service role nor an admin."),
  500: errorResponse("Unexpected failure."),
  503: errorResponse("The token cannot be checked now: the signing keys are unavailable."),
} as const;

/** Answers of routes with a JSON body. */
export const BODY_ERRORS = {
  400: errorResponse(
    "Malformed JSON, a body that does not match the schema, or a field that " +
      "breaks a save-time rule; see `details`.",
  ),
  413: errorResponse("The body is larger than the limit."),
  415: errorResponse("The body is not application/json."),
} as const;

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

/** Throws the 400 of `errors` when there are any. */
export function refuse(errors: { path: string; message: string }[]): void {
  if (errors.length > 0) throw new InvalidFieldsError(errors);
}
