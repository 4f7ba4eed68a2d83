/**
 * Source bookkeeping patches: what a success or a failure changes on the source row.
 * @module
 */
import { redactText } from "../log.ts";
import type { ErrorClass, Source } from "../types.ts";
import type { SourceBookkeeping } from "./types.ts";

/** HTTP validators to remember, when the response had them. */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/**
 * Patch after a successful check. With `validators`, the stored ETag / Last-Modified are
 * replaced (a server that stopped sending them gets them cleared, so no stale
 * conditional GET is sent); without, they are left as they are.
 */
export function successBookkeeping(
  source: Pick<Source, "id">,
  at: Date,
  validators?: Validators,
): SourceBookkeeping {
  const patch: SourceBookkeeping = {
    id: source.id,
    last_checked_at: at.toISOString(),
    last_success_at: at.toISOString(),
    last_error: null,
    last_error_class: null,
    consecutive_failures: 0,
  };
  if (validators) {
    patch.etag = validators.etag;
    patch.last_modified = validators.lastModified;
  }
  return patch;
}

/** Patch after a failed check: the error and one more consecutive failure; validators untouched. */
export function failureBookkeeping(
  source: Pick<Source, "id" | "consecutive_failures">,
  at: Date,
  errorClass: ErrorClass,
  message: string,
): SourceBookkeeping {
  return {
    id: source.id,
    last_checked_at: at.toISOString(),
    // Stored and shown by the API: no token from a source URL's query may reach it.
    last_error: _clip(redactText(message)),
    last_error_class: errorClass,
    consecutive_failures: (source.consecutive_failures ?? 0) + 1,
  };
}

function _clip(message: string): string {
  return message.length > 2000 ? `${message.slice(0, 1999)}…` : message;
}
