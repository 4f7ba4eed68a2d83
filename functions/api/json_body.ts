/**
 * Reading an optional JSON request body safely, before zod validates it: a size limit that
 * refuses big bodies without reading them into memory (hono's `bodyLimit`), 415 for other
 * content types, an empty body taken as `{}`, and malformed JSON refused with a 400 whose
 * message does not echo the parser's.
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";

/** Options of {@link optionalJsonBody}. */
export interface JsonBodyOptions {
  /** Largest body accepted, in bytes (`API_MAX_BODY_BYTES`). */
  maxBytes: number;
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Middleware for routes whose JSON body is optional. Run it before the route's zod
 * validator, which then reads the body with `c.req.json()`.
 * - body larger than `maxBytes` (declared or streamed) → 413 `payload_too_large`;
 * - a body with a content type other than `application/json` (or `+json`) → 415;
 * - no body, or an empty / blank JSON body → `{}`;
 * - malformed JSON → 400 `bad_request`.
 */
export function optionalJsonBody(options: JsonBodyOptions): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new ApiError(
        413,
        "payload_too_large",
        `Request body too large: the limit is ${options.maxBytes} bytes`,
      );
    },
  });
  const parse = async (c: Context, next: Next): Promise<void> => {
    const contentType = c.req.header("Content-Type");
    if (contentType === undefined) {
      // No declared type: only an empty body is acceptable (read within the limit above).
      if (c.req.raw.body !== null && (await c.req.arrayBuffer()).byteLength > 0) {
        throw _unsupported("none");
      }
      return await next();
    }
    const mediaType = contentType.split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) throw _unsupported(mediaType);
    // A clone, so the validator after us still reads the body through hono's c.req.json().
    const text = await c.req.raw.clone().text();
    if (text.trim() === "") {
      // As hono's bodyLimit does, swap the request to change what later readers see.
      c.req.raw = new Request(c.req.raw, { body: "{}" });
    } else {
      try {
        JSON.parse(text);
      } catch {
        throw new ApiError(400, "bad_request", "Invalid request body: malformed JSON");
      }
    }
    await next();
  };
  return (c, next) => limit(c, () => parse(c, next));
}

function _unsupported(mediaType: string): ApiError {
  const shown = /^[\w.+/-]{1,100}$/.test(mediaType) ? mediaType : "(unprintable)";
  return new ApiError(
    415,
    "unsupported_media_type",
    `Unsupported content type ${shown}: send application/json or no body`,
  );
}
