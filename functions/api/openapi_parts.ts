/**
 * The parts every OpenAPI route definition of the API is built from: JSON content, error
 * answers, the bearer security of the protected routes and their error answers, and the
 * `{id}` path parameter of the operators' collections. One copy, so the job routes and the
 * operators' routes document the same failures the same way.
 * @module
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";
import { ErrorBodySchema, UuidSchema } from "../../shared/schemas.ts";

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "BearerAuth";

/** The security of a route behind the bearer check. */
export const SECURITY = [{ [BEARER_SCHEME]: [] }];

/** `{ "application/json": { schema } }`. */
export const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** An error answer of the OpenAPI document (`{"error": {"code", "message"}}`). */
export const errorResponse = (description: string) => ({
  description,
  content: json(ErrorBodySchema),
});

/** The answers every route behind the bearer check may give. */
export const AUTH_ERRORS = {
  401: errorResponse(
    "Missing or invalid bearer token (missing, malformed, expired, badly signed).",
  ),
  403: errorResponse("Valid token, but the caller is neither the service role nor an admin."),
  500: errorResponse("Unexpected failure."),
  503: errorResponse("The token cannot be checked now: the signing keys are unavailable."),
} as const;

/** The answers of the operators' routes with a JSON body. */
export const BODY_ERRORS = {
  400: errorResponse(
    "Malformed JSON, a body that does not match the schema, or a field that " +
      "breaks a save-time rule; see `details`.",
  ),
  413: errorResponse("The body is larger than the limit."),
  415: errorResponse("The body is not application/json."),
} as const;

/**
 * A route behind the bearer check: `config` with the bearer security and
 * {@link AUTH_ERRORS} added to its answers.
 * @example
 * const listRoute = bearerRoute({
 *   method: "get", path: "/sources", tags: ["sources"], summary: "List sources",
 *   responses: { 200: { description: "The sources.", content: json(SourceListSchema) } },
 * });
 */
export function bearerRoute<const R extends Omit<RouteConfig, "security">>(config: R) {
  return createRoute({
    ...config,
    security: SECURITY,
    responses: { ...config.responses, ...AUTH_ERRORS },
  });
}

/** The `{id}` (a UUID) path parameter of the operators' collections. */
export const IdParams = z.object({ id: UuidSchema.meta({ param: { name: "id", in: "path" } }) });

/** The answer of a delete: `{ id, deleted: true }`. */
export const DeletedSchema = z.object({ id: UuidSchema, deleted: z.literal(true) });

/** The 404 of a route on `{id}` of a `noun` (`No source has this id.`). */
export const notFound = (noun: string) => ({ 404: errorResponse(`No ${noun} has this id.`) });

/** The answers of a route on `{id}` without a body: `id` not a UUID, and the 404. */
export const idErrors = (noun: string) => ({
  400: errorResponse("`id` is not a UUID."),
  ...notFound(noun),
});

/** What the document says of one route of a collection: summary, description, its 2xx. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** Description of the success answer. */
  ok: string;
}

/** Tags, summary and (when there is one) description of a route. */
function _about(tag: string, { summary, description }: RouteDoc) {
  return { tags: [tag], summary, ...(description === undefined ? {} : { description }) };
}

/**
 * A route on one item of a collection (a path with `{id}`, no body): behind the bearer
 * check, with the `{id}` parameter, its 400 and the 404 of a `noun` nobody has, and the
 * `extra` answers the action may give (e.g. a 409).
 * @example
 * const checkRoute = itemRoute({
 *   method: "post", path: "/sources/{id}/check", tag: "sources", noun: "source",
 *   doc: { summary: "Check one source now", ok: "The run." }, ok: CheckResultSchema,
 *   extra: { 409: errorResponse("A run is already in progress.") },
 * });
 */
export function itemRoute<
  const M extends "get" | "post" | "delete",
  const P extends string,
  S extends z.ZodType,
  const X extends Record<number, ReturnType<typeof errorResponse>> = Record<never, never>,
>(route: { method: M; path: P; tag: string; noun: string; doc: RouteDoc; ok: S; extra?: X }) {
  return bearerRoute({
    method: route.method,
    path: route.path,
    ..._about(route.tag, route.doc),
    request: { params: IdParams },
    responses: {
      200: { description: route.doc.ok, content: json(route.ok) },
      ...idErrors(route.noun),
      ...(route.extra ?? ({} as X)),
    },
  });
}

/**
 * A list read with filters in the query (`GET path?…`): behind the bearer check, with the
 * 400 of a query that does not parse (`badQuery` says which parameters).
 * @example
 * const changesRoute = queryRoute({
 *   path: "/changes", tag: "history", query: ChangesQuerySchema, ok: ChangeListSchema,
 *   doc: { summary: "List policy changes", ok: "The changes." },
 *   badQuery: "A bad `source_id`, `since` or `limit`.",
 * });
 */
export function queryRoute<
  const P extends string,
  Q extends z.ZodObject,
  S extends z.ZodType,
>(route: { path: P; tag: string; doc: RouteDoc; query: Q; ok: S; badQuery: string }) {
  return bearerRoute({
    method: "get",
    path: route.path,
    ..._about(route.tag, route.doc),
    request: { query: route.query },
    responses: {
      200: { description: route.doc.ok, content: json(route.ok) },
      400: errorResponse(route.badQuery),
    },
  });
}

/**
 * The five routes of a collection operators edit, all behind the bearer check: list
 * (`GET path`), create (`POST path`, 201), get, patch and delete (`GET|PATCH|DELETE
 * path/{id}`, 404 when no `noun` has the id). Each collection gives its schemas and texts;
 * the parameters and the error answers are the same for all.
 * @example
 * const routes = collectionRoutes({
 *   path: "/sources", tag: "sources", noun: "source",
 *   schemas: { list: SourceListSchema, view: SourceViewSchema,
 *              create: SourceCreateSchema, patch: SourcePatchSchema },
 *   docs: { list: { summary: "List sources", ok: "The sources." }, ... },
 * });
 * app.openapi(routes.get, async (c) => c.json(await get(c.req.valid("param").id), 200));
 */
export function collectionRoutes<
  const P extends string,
  L extends z.ZodType,
  V extends z.ZodType,
  C extends z.ZodType,
  U extends z.ZodType,
>(collection: {
  path: P;
  tag: string;
  noun: string;
  schemas: { list: L; view: V; create: C; patch: U };
  docs: { list: RouteDoc; create: RouteDoc; get: RouteDoc; patch: RouteDoc; remove: RouteDoc };
}) {
  const { path, tag, noun, schemas, docs } = collection;
  const item = `${path}/{id}` as const;
  const about = (doc: RouteDoc) => _about(tag, doc);
  return {
    list: bearerRoute({
      method: "get",
      path,
      ...about(docs.list),
      responses: { 200: { description: docs.list.ok, content: json(schemas.list) } },
    }),
    create: bearerRoute({
      method: "post",
      path,
      ...about(docs.create),
      request: { body: { required: true, content: json(schemas.create) } },
      responses: {
        201: { description: docs.create.ok, content: json(schemas.view) },
        ...BODY_ERRORS,
      },
    }),
    get: itemRoute({ method: "get", path: item, tag, noun, doc: docs.get, ok: schemas.view }),
    patch: bearerRoute({
      method: "patch",
      path: item,
      ...about(docs.patch),
      request: { params: IdParams, body: { required: true, content: json(schemas.patch) } },
      responses: {
        200: { description: docs.patch.ok, content: json(schemas.view) },
        ...BODY_ERRORS,
        ...notFound(noun),
      },
    }),
    remove: itemRoute({
      method: "delete",
      path: item,
      tag,
      noun,
      doc: docs.remove,
      ok: DeletedSchema,
    }),
  };
}
