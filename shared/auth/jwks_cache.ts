/**
 * The project's public signing keys (JWKS), fetched through an injected `fetch`, cached for
 * a while by the injected clock, and refetched early (at most once per cooldown) when a
 * token names a key the cache does not know, so key rotation needs no restart.
 *
 * jose's `createRemoteJWKSet` does the same but times its cache with `Date.now()`; this
 * keeps jose's key selection (`createLocalJWKSet`) and puts fetching and time under the
 * caller's control.
 * @module
 */
import { createLocalJWKSet, errors, type JWSHeaderParameters, type LocalJWKSet } from "jose";
import type { Clock, FetchFn, Logger } from "../types.ts";
import { AuthError } from "./auth_error.ts";

/** Defaults for {@link JwksCacheOptions}. */
export const JWKS_DEFAULTS = {
  /** How long a fetched key set is trusted before it is fetched again. */
  cacheMs: 10 * 60_000,
  /** How long one fetch of the key set may take, body included. */
  timeoutMs: 5_000,
  /** Least time between two fetches caused by an unknown `kid`. */
  cooldownMs: 30_000,
  /** Largest key-set body accepted. */
  maxBytes: 64 * 1024,
} as const;

/** What {@link createJwksCache} needs. */
export interface JwksCacheOptions {
  /** Where the key set is served, e.g. `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`. */
  url: string;
  fetch: FetchFn;
  clock: Clock;
  cacheMs?: number;
  timeoutMs?: number;
  cooldownMs?: number;
  maxBytes?: number;
  logger?: Logger;
}

/** Resolves the verification key for a token header; see {@link createJwksCache}. */
export interface JwksCache {
  /**
   * The public key matching `header` (by `kid` and `alg`). Throws an `unauthorized`
   * {@link AuthError} when no key matches, `auth_unavailable` when the set cannot be loaded.
   */
  getKey(header: JWSHeaderParameters): Promise<CryptoKey>;
}

/**
 * Creates a key cache for one JWKS URL. Create it once per process: the cache lives in it.
 * @example
 * const jwks = createJwksCache({ url, fetch, clock: () => new Date() });
 * const key = await jwks.getKey(decodeProtectedHeader(token));
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const cacheMs = options.cacheMs ?? JWKS_DEFAULTS.cacheMs;
  const cooldownMs = options.cooldownMs ?? JWKS_DEFAULTS.cooldownMs;
  let current: { keys: LocalJWKSet; fetchedAt: number } | null = null;
  let inflight: Promise<{ keys: LocalJWKSet; fetchedAt: number }> | null = null;

  // Concurrent requests share one fetch instead of each hitting the key server.
  const reload = () => {
    inflight ??= _loadKeySet(options)
      .then((keys) => (current = { keys, fetchedAt: options.clock().getTime() }))
      .finally(() => (inflight = null));
    return inflight;
  };

  const select = async (set: LocalJWKSet, header: JWSHeaderParameters) => {
    try {
      return { key: await set(header) };
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) return { key: null, error };
      if (error instanceof errors.JWKSMultipleMatchingKeys) {
        throw new AuthError("unauthorized", "Invalid token: it names no single signing key", {
          cause: error,
        });
      }
      throw new AuthError("unauthorized", "Invalid token: its header does not fit a signing key", {
        cause: error,
      });
    }
  };

  return {
    async getKey(header) {
      const now = options.clock().getTime();
      let set = current !== null && now - current.fetchedAt < cacheMs ? current : await reload();
      let found = await select(set.keys, header);
      if (found.key === null && now - set.fetchedAt >= cooldownMs) {
        set = await reload();
        found = await select(set.keys, header);
      }
      if (found.key === null) {
        throw new AuthError("unauthorized", "Invalid token: no signing key matches its kid", {
          cause: found.error,
        });
      }
      return found.key;
    },
  };
}

async function _loadKeySet(options: JwksCacheOptions): Promise<LocalJWKSet> {
  const timeoutMs = options.timeoutMs ?? JWKS_DEFAULTS.timeoutMs;
  const maxBytes = options.maxBytes ?? JWKS_DEFAULTS.maxBytes;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const response = await options.fetch(options.url, {
      headers: { accept: "application/json" },
      signal: controller.signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const text = await _readText(response, maxBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error("response is not JSON");
    }
    if (
      body === null || typeof body !== "object" ||
      !Array.isArray((body as { keys?: unknown }).keys)
    ) {
      throw new Error("response has no keys array");
    }
    return createLocalJWKSet(body as { keys: [] });
  } catch (error) {
    const detail = controller.signal.aborted
      ? String((controller.signal.reason as Error)?.message ?? "aborted")
      : error instanceof Error
      ? error.message
      : String(error);
    const cause = new Error(`Cannot load signing keys from ${options.url}: ${detail}`, {
      cause: error,
    });
    options.logger?.warn("Cannot load signing keys from {url}: {detail}", {
      url: options.url,
      detail,
    });
    throw new AuthError("auth_unavailable", "Cannot verify token: signing keys are unavailable", {
      cause,
    });
  } finally {
    clearTimeout(timer);
  }
}

async function _readText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`response is larger than ${maxBytes} bytes`);
  }
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`response is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
