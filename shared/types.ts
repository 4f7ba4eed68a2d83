/**
 * Domain types shared by the pipeline, the alert engine, the job and the API.
 * Row shapes mirror `supabase/migrations/*_core.sql` (all of it: `supabase/schema.sql`).
 * @module
 */

/** Classes of a failed fetch; stored in `sources.last_error_class`. */
export const ERROR_CLASSES = [
  "dns",
  "connect",
  "timeout",
  "tls",
  "http_4xx",
  "http_5xx",
  "too_large",
  "too_many_redirects",
  "unsupported_content",
  "parse",
  "blocked",
  "browser",
  "internal",
  // Not a fetch error: the job gave up on the source after every attempt's invocation died
  // (killed, out of memory, over its budget); see private.job_fail_poison_items.
  "poison",
] as const;

/** One of {@link ERROR_CLASSES}. */
export type ErrorClass = typeof ERROR_CLASSES[number];

/** The I/O-free clock every module takes, so tests control time. */
export type Clock = () => Date;

/** The `fetch` every module takes, so tests inject their own. */
export type FetchFn = (input: Request | URL | string, init?: RequestInit) => Promise<Response>;

/**
 * Structured logger: the subset of LogTape's `Logger` the code uses. Entry points pass a
 * LogTape logger; tests pass a capturing fake. Message templates use `{name}` placeholders
 * filled from `properties`, as LogTape does.
 */
export interface Logger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** How a source's page is fetched: plain HTTP, or rendered by a real browser (scripts run). */
export const RENDER_MODES = ["static", "browser"] as const;

/** One of {@link RENDER_MODES}; `sources.render`. */
export type RenderMode = typeof RENDER_MODES[number];

/** A row of `public.sources` (the columns the code reads). */
export interface Source {
  id: string;
  name: string;
  url: string;
  active: boolean;
  check_frequency: string;
  css_selector: string | null;
  ignore_patterns: string[];
  /** `static` (default): HTTP GET; `browser`: rendered through the CDP endpoint. */
  render: RenderMode;
  etag: string | null;
  last_modified: string | null;
  last_hash: string | null;
  /**
   * `<key>:<chars>` of the text extracted at a check that normalised to a hash
   * (shared/pipeline/text_key.ts); absent or null: none.
   */
  text_key?: string | null;
  last_snapshot_id: string | null;
  last_checked_at: string | null;
  last_success_at: string | null;
  consecutive_failures: number;
  failing_alerted: boolean;
}

/** A row of `public.subscriptions`. */
export interface Subscription {
  id: string;
  source_id: string | null;
  channel: "webhook" | "slack" | "email";
  target: string;
  secret: string | null;
  active: boolean;
  operational_alerts: boolean;
}

/** A row of `public.policy_changes`. */
export interface PolicyChange {
  id: string;
  source_id: string;
  snapshot_id: string | null;
  previous_snapshot_id: string | null;
  detected_at: string;
  diff: string;
  summary: ChangeSummary;
}

/** Short summary of a change, stored in `policy_changes.summary`. */
export interface ChangeSummary {
  lines_added: number;
  lines_removed: number;
  first_changed_lines: string[];
}
