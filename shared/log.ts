/**
 * Logging: LogTape in place of @std/log (JSR, where @std/log lives, is unreachable from
 * the machines this project is built on). Entry points call {@link setupLogging} once and
 * pass `getLogger([...])` loggers down; modules only see the {@link Logger} interface.
 * @module
 */
import {
  configure,
  getConsoleSink,
  getJsonLinesFormatter,
  getLogger as ltGetLogger,
  getTextFormatter,
  type LogRecord,
} from "@logtape/logtape";
import type { Logger } from "./types.ts";

const SECRET_KEYS = /authorization|apikey|api_key|secret|password|token|service_role_key|key$/i;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
// Supabase's new-style API keys (sb_secret_…, sb_publishable_…).
const SUPABASE_KEY = /\bsb_(secret|publishable)_[A-Za-z0-9_-]+/g;
// A URL in free text (e.g. the message of Deno's fetch errors, which quotes the whole URL):
// credentials before `@`, the query and the fragment. Query values are often the secret
// (`?token=`, `?access_token=`, signed URLs), so every value goes, names stay.
const URL_IN_TEXT =
  /\b(https?:\/\/)([^\s/?#@"'<>]*@)?([^\s?#"'<>]*)(\?[^\s#"'<>]*)?(#[^\s"'<>]*)?/gi;
// Slack incoming-webhook URLs are secrets in their path.
const SLACK_HOOK = /\b(hooks\.slack\.com\/services\/)[^\s?#"'<>]+/gi;

/**
 * Replaces secrets by `[REDACTED]`: bearer tokens, JWTs, Supabase API keys, credentials
 * and query values of URLs in text, Slack webhook paths, and the values of secret-named
 * keys (`authorization`, `apikey`, `secret`, `token`, ...) of objects.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    return value.replace(BEARER, "$1[REDACTED]").replace(JWT, "[REDACTED]")
      .replace(SUPABASE_KEY, "sb_$1_[REDACTED]")
      .replace(URL_IN_TEXT, _redactUrl)
      .replace(SLACK_HOOK, "$1[REDACTED]");
  }
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return redact(`${value.name}: ${value.message}`, depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) && v != null ? "[REDACTED]" : redact(v, depth + 1);
  }
  return out;
}

function _redactUrl(
  _match: string,
  scheme: string,
  userinfo: string | undefined,
  rest: string,
  query: string | undefined,
  fragment: string | undefined,
): string {
  const params = query === undefined ? "" : "?" + query.slice(1).split(/[&;]/).map((param) => {
    const eq = param.indexOf("=");
    return eq < 0 ? (param === "" ? "" : "[REDACTED]") : `${param.slice(0, eq)}=[REDACTED]`;
  }).join("&");
  return `${scheme}${userinfo ? "[REDACTED]@" : ""}${rest}${params}${
    fragment ? "#[REDACTED]" : ""
  }`;
}

/** {@link redact} for one string: error messages stored in the database or returned by the API. */
export function redactText(text: string): string {
  return redact(text) as string;
}

/** Levels of {@link Logger} from the lowest. */
const LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * Wraps a logger so every message and property is passed through {@link redact}. Levels
 * under `lowest` are dropped before that: a job logs a debug line per source, which the
 * configured level would drop anyway after its redaction and record were made.
 */
export function redactingLogger(inner: Logger, lowest: keyof Logger = "debug"): Logger {
  const from = LEVELS.indexOf(lowest);
  const wrap = (level: keyof Logger) =>
    LEVELS.indexOf(level) < from
      ? () => {}
      : (message: string, properties?: Record<string, unknown>) =>
        inner[level](
          redact(message) as string,
          properties && (redact(properties) as Record<string, unknown>),
        );
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}

/** Counts by level of the events a {@link logRateGate} dropped. */
export type DroppedCounts = Record<string, number>;

/**
 * A fixed-window rate gate for log events: admits at most `limit` events per `windowMs`
 * and counts the rest by level. Hosted Supabase keeps 100 log events per 10 s of a function
 * (supabase.com/docs/guides/functions/limits: "Log event threshold") and silently drops the
 * rest; the gate drops them here instead, and says how many.
 * @example
 * const gate = logRateGate(90, 10_000, () => Date.now());
 * if (gate.admit("info")) sink(record);
 */
export function logRateGate(
  limit: number,
  windowMs: number,
  now: () => number,
): { admit(level: string): boolean; takeDropped(): DroppedCounts | null } {
  let start = now();
  let used = 0;
  let dropped: DroppedCounts = {};
  let droppedAny = false;
  let pending: DroppedCounts | null = null;
  return {
    admit(level) {
      const t = now();
      if (t - start >= windowMs) {
        if (droppedAny) pending = dropped;
        start = t;
        used = 0;
        dropped = {};
        droppedAny = false;
      }
      if (used < limit) {
        used++;
        return true;
      }
      dropped[level] = (dropped[level] ?? 0) + 1;
      droppedAny = true;
      return false;
    },
    takeDropped() {
      const out = pending;
      pending = null;
      return out;
    },
  };
}

let configured = false;
/** The level {@link setupLogging} configured; what {@link getLogger}'s loggers drop below. */
let lowestLevel: keyof Logger = "debug";

/**
 * Configures LogTape once: JSON lines (for the hosted edge runtime and log files) or
 * readable text. Idempotent.
 */
export async function setupLogging(
  options: {
    format?: "json" | "text";
    level?: "debug" | "info" | "warning" | "error";
    /** Log events per 10 s at most (hosted keeps 100); 0 for no limit. */
    maxEventsPer10s?: number;
  } = {},
): Promise<void> {
  if (configured) return;
  configured = true;
  const level = options.level ?? "info";
  lowestLevel = level === "warning" ? "warn" : level;
  const formatter = options.format === "text" ? getTextFormatter() : getJsonLinesFormatter();
  const limit = options.maxEventsPer10s ?? 0;
  const gate = limit > 0 ? logRateGate(limit, 10_000, () => Date.now()) : null;
  await configure({
    sinks: { console: getConsoleSink({ formatter }) },
    filters: {
      rate: (record: LogRecord) => {
        if (gate === null) return true;
        const dropped = gate.takeDropped();
        if (dropped !== null) {
          // Said once the window that dropped them is over, outside this filter call.
          setTimeout(() =>
            ltGetLogger(["policy-monitor", "log"]).warn(
              "{count} log events dropped in 10 s (limit {limit}): {by_level}",
              {
                count: Object.values(dropped).reduce((a, b) => a + b, 0),
                limit,
                by_level: JSON.stringify(dropped),
              },
            ), 0);
        }
        return gate.admit(record.level);
      },
    },
    loggers: [
      {
        category: ["policy-monitor"],
        lowestLevel: options.level ?? "info",
        sinks: ["console"],
        filters: ["rate"],
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/**
 * A redacting LogTape logger under the `policy-monitor` category, which drops the levels
 * under the one {@link setupLogging} configured (all pass before it ran).
 */
export function getLogger(...category: string[]): Logger {
  return redactingLogger(ltGetLogger(["policy-monitor", ...category]), lowestLevel);
}

/** One captured log line of {@link captureLogger}. */
export interface CapturedLog {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  properties: Record<string, unknown>;
  /** The message with `{placeholders}` filled from properties. */
  text: string;
}

/** A logger that keeps what it is given, for tests. */
export function captureLogger(): Logger & { records: CapturedLog[] } {
  const records: CapturedLog[] = [];
  const put = (level: CapturedLog["level"]) =>
  (
    message: string,
    properties: Record<string, unknown> = {},
  ) => {
    const text = message.replace(
      /\{(\w+)\}/g,
      (m, k: string) => (k in properties ? String(properties[k]) : m),
    );
    records.push({ level, message, properties, text });
  };
  return {
    records,
    debug: put("debug"),
    info: put("info"),
    warn: put("warn"),
    error: put("error"),
  };
}

export type { LogRecord };
