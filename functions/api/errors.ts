/**
 * The one place that turns failures into HTTP answers: {@link ApiError} for errors raised by
 * the API itself, and {@link errorHandler}, the app's `onError`, which maps every error
 * (HTTP exceptions, auth refusals, domain errors such as a run in progress, bugs) to a
 * status and a `{"error": {"code", "message"}}` body.
 * @module
 */
import type { Context, ErrorHandler, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { RunInProgressError } from "../../shared/jobs/types.ts";
import { InvalidFieldsError } from "../../shared/operators/rules.ts";
import type { ErrorBody } from "../../shared/schemas.ts";
import type { Logger } from "../../shared/types.ts";
import { namedErrorMessage } from "../../shared/errors.ts";

/** Default `code` of each status when the error does not carry its own. */
const CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "unprocessable_entity",
  429: "too_many_requests",
  500: "internal",
  503: "unavailable",
};

/** Extra members of an error body besides `code` and `message`. */
export type ErrorExtras = Omit<ErrorBody["error"], "code" | "message">;

/**
 * An HTTP error with a machine-readable code (and optional extras such as field errors),
 * for `{"error": {"code", "message", ...}}`.
 * @example
 * throw new ApiError(403, "forbidden", "Caller not allowed: only the service role may start a cron run");
 */
export class ApiError extends HTTPException {
  /** Creates the error; `message` is shown to the caller, so keep secrets out of it. */
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extras: ErrorExtras = {},
  ) {
    super(status, { message });
    this.name = "ApiError";
  }
}

/** Most field errors one 400 answer lists, and the longest message of each. */
const MAX_DETAILS = 20;
const MAX_DETAIL_CHARS = 200;

const WHERE: Record<string, string> = {
  json: "request body",
  query: "query string",
  param: "path",
  header: "headers",
};

/**
 * The 400 for a failed zod validation of `target` (`json`, `query`, `param`), listing the
 * field errors as `details` (an unknown field is one detail with the field's path).
 */
export function validationError(target: string, error: ZodError): ApiError {
  const details: { path: string; message: string }[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        details.push({ path: [...base, key].join("."), message: "Unknown field" });
      }
    } else {
      details.push({ path: base.join("."), message: issue.message });
    }
  }
  const shown = details.slice(0, MAX_DETAILS).map((d) => ({
    path: _clip(d.path),
    message: _clip(d.message),
  }));
  const first = shown[0];
  const summary = first === undefined
    ? "it does not match the schema"
    : `${first.path === "" ? "" : `${first.path}: `}${first.message}${
      details.length > 1 ? ` (and ${details.length - 1} more)` : ""
    }`;
  return new ApiError(400, "bad_request", `Invalid ${WHERE[target] ?? target}: ${summary}`, {
    details: shown,
  });
}

/**
 * The app's `onError`: one JSON error shape for everything. Errors that carry a `code`
 * (ApiError, the auth middleware's AuthHttpException, e.g. `auth_unavailable` 503) keep it;
 * a {@link RunInProgressError} is a 409 `run_in_progress`; an {@link InvalidFieldsError} (a
 * save-time rule or a database constraint) is a 400 with field `details`; anything unexpected is logged and
 * answered 500 `internal` without details.
 */
export function errorHandler(logger: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof RunInProgressError) {
      return _answer(c, 409, "run_in_progress", err.message, {
        ...(err.runningRunId !== null ? { run_id: err.runningRunId } : {}),
      });
    }
    if (err instanceof InvalidFieldsError) {
      const details = err.details.slice(0, MAX_DETAILS).map((d) => ({
        path: _clip(d.path),
        message: _clip(d.message),
      }));
      return _answer(c, 400, "bad_request", _clip(err.message), { details });
    }
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      const own = (err as { code?: unknown }).code;
      const code = typeof own === "string" && own !== "" ? own : CODES[status] ?? "error";
      if (status >= 500) _logUnexpected(logger, c, err);
      const headers: Record<string, string> = {};
      const www = err.getResponse().headers.get("www-authenticate");
      if (www) headers["WWW-Authenticate"] = www;
      const extras = err instanceof ApiError ? err.extras : {};
      // Messages of 5xx exceptions raised by libraries are not written for callers.
      const message = status >= 500 && !(err instanceof ApiError) && own === undefined
        ? "Internal error"
        : err.message || code;
      return _answer(c, status, code, message, extras, headers);
    }
    _logUnexpected(logger, c, err);
    return _answer(c, 500, "internal", "Internal error");
  };
}

/**
 * Outermost middleware: hono hands only `Error`s to `onError` and lets anything else thrown
 * (a string, a rejected promise's plain value) escape as the runtime's own 500. This wraps
 * such values in an Error so they get the same JSON answer and log line.
 */
export function catchNonErrors(): MiddlewareHandler {
  return async (_c, next) => {
    try {
      await next();
    } catch (thrown) {
      if (thrown instanceof Error) throw thrown;
      throw new Error(`Non-error thrown: ${String(thrown)}`, { cause: thrown });
    }
  };
}

function _answer(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  extras: ErrorExtras = {},
  headers: Record<string, string> = {},
): Response {
  const body: ErrorBody = { error: { code, message, ...extras } };
  return c.json(body, status, headers);
}

function _logUnexpected(logger: Logger, c: Context, err: unknown): void {
  // Method, path and the error only: never headers (Authorization) or the body.
  logger.error("Unhandled error on {method} {path}: {error}", {
    method: c.req.method,
    path: c.req.path,
    error: namedErrorMessage(err),
  });
}

function _clip(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
}
