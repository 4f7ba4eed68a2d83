/**
 * The Atom feed of policy changes, for feed readers. They cannot send a bearer header, so
 * the feed is authorised by a revocable feed token in the query (`?token=`), created and
 * revoked by operators through the bearer-authorised token routes; only the SHA-256 of a
 * token is stored, and the log redaction drops query values.
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AuthEnv } from "../../../shared/auth/middleware.ts";
import { htmlEscape } from "../../../shared/alerts/channels/email.ts";
import { sha256Hex } from "../../../shared/pipeline/detect.ts";
import {
  type ChangeView,
  FeedTokenCreatedSchema,
  FeedTokenCreateSchema,
  FeedTokenListSchema,
  FeedTokenViewSchema,
} from "../../../shared/operators/schemas.ts";
import { UuidSchema } from "../../../shared/schemas.ts";
import { lazyImport } from "../../../shared/lazy_import.ts";
import { ApiError } from "../errors.ts";
import { bearerRoute, BODY_ERRORS, errorResponse, itemRoute, json } from "../openapi_parts.ts";
import { found, type OperatorDeps, saving } from "./_shared.ts";

/** Path of the feed, under `/api`. */
export const FEED_PATH = "/feeds/changes.atom";
/** Prefix of feed tokens (so they are recognisable in a leak scan). */
export const FEED_TOKEN_PREFIX = "pcmf_";
const FEED_ENTRIES = { default: 50, max: 200 } as const;
/** Longest diff shown in one entry. */
const ENTRY_DIFF_CHARS = 20_000;

/** A new random feed token: the prefix and 32 random bytes, base64url. */
export function newFeedToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replace(/\+/g, "-")
    .replace(/\//g, "_");
  return `${FEED_TOKEN_PREFIX}${b64}`;
}

const feedRoute = createRoute({
  method: "get",
  path: FEED_PATH,
  tags: ["history"],
  summary: "Atom feed of policy changes",
  description: "Newest changes first, each entry with its summary and diff. Authorised by a " +
    "feed token in the query (create one with `POST /api/feeds/tokens`), since feed readers " +
    "cannot send an Authorization header. A revoked token reads nothing.",
  request: {
    query: z.object({
      token: z.string().max(200).optional().meta({ description: "A feed token." }),
      source_id: UuidSchema.optional().meta({ description: "Only this source's changes." }),
      limit: z.coerce.number().int().min(1).max(FEED_ENTRIES.max).optional(),
    }),
  },
  responses: {
    200: {
      description: "The feed.",
      content: { "application/atom+xml": { schema: z.string() } },
    },
    400: errorResponse("A bad `source_id` or `limit`."),
    401: errorResponse("No feed token, or an unknown or revoked one."),
    500: errorResponse("Unexpected failure."),
  },
});

const createTokenRoute = bearerRoute({
  method: "post",
  path: "/feeds/tokens",
  tags: ["history"],
  summary: "Create a feed token",
  description: "The token is in the answer this once (with the feed URL); only its SHA-256 " +
    "is stored.",
  request: { body: { required: true, content: json(FeedTokenCreateSchema) } },
  responses: {
    201: { description: "The token.", content: json(FeedTokenCreatedSchema) },
    ...BODY_ERRORS,
  },
});

const listTokensRoute = bearerRoute({
  method: "get",
  path: "/feeds/tokens",
  tags: ["history"],
  summary: "List feed tokens",
  responses: {
    200: { description: "Newest first, without their values.", content: json(FeedTokenListSchema) },
  },
});

const revokeTokenRoute = itemRoute({
  method: "delete",
  path: "/feeds/tokens/{id}",
  tag: "history",
  noun: "feed token",
  doc: { summary: "Revoke a feed token", ok: "The revoked token." },
  ok: FeedTokenViewSchema,
});

/** Mounts the feed token routes (bearer-authorised by the app) on `app`. */
export function mountFeedTokenRoutes(
  app: OpenAPIHono<AuthEnv>,
  deps: OperatorDeps & { publicUrl?: string },
): void {
  app.openapi(createTokenRoute, async (c) => {
    const { name } = c.req.valid("json");
    const token = newFeedToken();
    const hash = await sha256Hex(token);
    const created = await saving(() => deps.feedTokens.create(name, hash));
    const base = deps.publicUrl ?? new URL(c.req.url).origin;
    const feed_url = `${base}/functions/v1/api${FEED_PATH}?token=${token}`;
    return c.json({ ...created, token, feed_url }, 201);
  });

  app.openapi(listTokensRoute, async (c) => c.json({ tokens: await deps.feedTokens.list() }, 200));

  app.openapi(revokeTokenRoute, async (c) => {
    const { id } = c.req.valid("param");
    const revoked = found("feed token", id, await deps.feedTokens.revoke(id, deps.clock()));
    deps.logger.info("Feed token {id} revoked", { id });
    return c.json(revoked, 200);
  });
}

/** Mounts the feed itself (token in the query, no bearer) on `app`. */
export function mountFeedRoute(
  app: OpenAPIHono<AuthEnv>,
  deps: OperatorDeps & { publicUrl?: string },
): void {
  app.openapi(feedRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.token === undefined || query.token === "") {
      throw new ApiError(401, "unauthorized", "Missing feed token: add ?token=<feed token>");
    }
    const token = await deps.feedTokens.use(await sha256Hex(query.token), deps.clock());
    if (token === null) {
      throw new ApiError(401, "unauthorized", "Invalid feed token: unknown or revoked");
    }
    const changes = await deps.history.listChanges({
      ...(query.source_id !== undefined ? { sourceId: query.source_id } : {}),
      limit: query.limit ?? FEED_ENTRIES.default,
    });
    const base = deps.publicUrl ?? new URL(c.req.url).origin;
    const xml = await atomOf(changes, { base, now: deps.clock() });
    return c.body(xml, 200, { "content-type": "application/atom+xml; charset=utf-8" });
  });
}

const _loadFeed = lazyImport(() => import("feed"));

/**
 * Renders changes as an Atom 1.0 feed (jpmonette/feed). The package is loaded by the first
 * feed request: the job's invocations, most of a worker's life, never render one, and it
 * cost every worker's boot ~17 ms of CPU (docs/benchmarks.md, "Worker boot and hot path").
 */
export async function atomOf(
  changes: ChangeView[],
  options: { base: string; now: Date },
): Promise<string> {
  const { Feed } = await _loadFeed();
  const api = `${options.base}/functions/v1/api`;
  const feed = new Feed({
    title: "Policy changes",
    description: "Changes detected by the policy change monitor",
    id: `${api}${FEED_PATH}`,
    link: `${api}/changes`,
    updated: changes[0] ? new Date(changes[0].detected_at) : options.now,
    copyright: "",
    generator: "policy change monitor",
  });
  for (const change of changes) {
    const name = change.source_name ?? change.source_id;
    const s = change.summary;
    const summary = `${s.lines_added} line${s.lines_added === 1 ? "" : "s"} added, ` +
      `${s.lines_removed} removed`;
    const diff = change.diff.length > ENTRY_DIFF_CHARS
      ? `${change.diff.slice(0, ENTRY_DIFF_CHARS)}\n… (truncated)`
      : change.diff;
    feed.addItem({
      title: `${name}: ${summary}`,
      id: `urn:uuid:${change.id}`,
      link: change.source_url ?? `${api}/changes?source_id=${change.source_id}`,
      date: new Date(change.detected_at),
      description: summary,
      // Escaped, so the diff cannot close the CDATA section or inject markup.
      content: `<p>${htmlEscape(name)}: ${htmlEscape(summary)}</p><pre>${htmlEscape(diff)}</pre>`,
    });
  }
  return feed.atom1();
}
