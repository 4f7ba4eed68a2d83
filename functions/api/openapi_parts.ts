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
  const { path, noun, schemas, docs } = collection;
  const item = `${path}/{id}` as const;
  const about = ({ summary, description }: RouteDoc) => ({
    tags: [collection.tag],
    summary,
    ...(description === undefined ? {} : { description }),
  });
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
    get: bearerRoute({
      method: "get",
      path: item,
      ...about(docs.get),
      request: { params: IdParams },
      responses: {
        200: { description: docs.get.ok, content: json(schemas.view) },
        ...idErrors(noun),
      },
    }),
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
    remove: bearerRoute({
      method: "delete",
      path: item,
      ...about(docs.remove),
      request: { params: IdParams },
      responses: {
        200: { description: docs.remove.ok, content: json(DeletedSchema) },
        ...idErrors(noun),
      },
    }),
  };
}
