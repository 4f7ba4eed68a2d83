/**
 * What a failed write of the operators' tables means to the caller: the {@link DbError}
 * every store throws (client.ts) carries the SQLSTATE and the constraint's name, and
 * {@link constraintFieldError} turns the constraints the API knows into field errors, so a
 * caller never sees Postgres' own text.
 * @module
 */
import type { FieldError } from "../operators/rules.ts";
import { DbError } from "./client.ts";

/** Field errors for the constraints of the operators' tables (the API's rules say the same first). */
const CONSTRAINT_FIELDS: Record<string, FieldError> = {
  sources_name_check: { path: "name", message: "Name must be 1 to 200 characters" },
  sources_url_check: {
    path: "url",
    message: "URL must be an http(s) URL of at most 2048 characters",
  },
  sources_url_host_valid: { path: "url", message: "URL has no valid host name" },
  sources_check_frequency_fkey: { path: "check_frequency", message: "Unknown check frequency" },
  sources_css_selector_check: {
    path: "css_selector",
    message: "CSS selector must be 1 to 500 characters",
  },
  sources_ignore_patterns_count: {
    path: "ignore_patterns",
    message: "At most 50 ignore patterns are allowed",
  },
  sources_render_check: { path: "render", message: "Render must be static or browser" },
  subscriptions_channel_check: {
    path: "channel",
    message: "Channel must be webhook, slack or email",
  },
  subscriptions_target_check: { path: "target", message: "Target must be at most 2048 characters" },
  subscriptions_target_valid: {
    path: "target",
    message: "Target must be an http(s) URL (webhook, slack) or an e-mail address (email)",
  },
  subscriptions_secret_check: { path: "secret", message: "Secret must be 16 to 512 characters" },
  subscriptions_source_id_fkey: { path: "source_id", message: "No source has this id" },
  feed_tokens_name_check: { path: "name", message: "Name must be 1 to 200 characters" },
};

/**
 * The field error a failed write means, or null when it is not a rule the caller broke
 * (then it is an internal failure). Covers the named constraints above and the source
 * trigger's refusal of an ignore pattern (SQLSTATE 22023).
 */
export function constraintFieldError(error: unknown): FieldError | null {
  if (!(error instanceof DbError)) return null;
  if (error.constraint !== null && error.constraint in CONSTRAINT_FIELDS) {
    return CONSTRAINT_FIELDS[error.constraint] ?? null;
  }
  if (error.code === "22023" && /ignore pattern/i.test(error.message)) {
    return {
      path: "ignore_patterns",
      message: "An ignore pattern is not a valid regular expression",
    };
  }
  return null;
}
