/**
 * Sources: list with status, create, read, patch, delete, preview a URL, check one source
 * now, and a source's changes. Every write is checked with the pipeline's own rules first
 * (shared/operators/rules.ts), then by the database's constraints.
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AuthEnv } from "../../../shared/auth/middleware.ts";
import { previewSource } from "../../../shared/operators/preview.ts";
import { addressPolicy, sourceFieldErrors } from "../../../shared/operators/rules.ts";
import {
  ChangeListSchema,
  PreviewRequestSchema,
  PreviewResultSchema,
  SourceCreateSchema,
  SourceListSchema,
  SourcePatchSchema,
  SourceViewSchema,
} from "../../../shared/operators/schemas.ts";
import { JobResultSchema, RunSourceOutcomeSchema, UuidSchema } from "../../../shared/schemas.ts";
import { ApiError } from "../errors.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  json,
  type OperatorDeps,
  refuse,
  saving,
  SECURITY,
} from "./_shared.ts";
import { CHANGES_LIMIT, ChangesQuerySchema } from "./history.ts";

const IdParams = z.object({ id: UuidSchema.meta({ param: { name: "id", in: "path" } }) });
const NOT_FOUND = { 404: errorResponse("No source has this id.") };

const listRoute = createRoute({
  method: "get",
  path: "/sources",
  tags: ["sources"],
  summary: "List sources with their status",
  description: "Every source with its last check, last change, failure streak and next due time.",
  security: SECURITY,
  responses: {
    200: { description: "The sources, by name.", content: json(SourceListSchema) },
    ...AUTH_ERRORS,
  },
});

const createSourceRoute = createRoute({
  method: "post",
  path: "/sources",
  tags: ["sources"],
  summary: "Add a source",
  description: "Checked at save time with the pipeline's rules: the URL parsed and checked " +
    "against the network policy (the addresses its host resolves to), the CSS selector " +
    "compiled by the extractor's engine, the ignore patterns compiled as they will run, a " +
    "known check frequency. The first fetch of a new source is a baseline, not a change.",
  security: SECURITY,
  request: { body: { required: true, content: json(SourceCreateSchema) } },
  responses: {
    201: { description: "The new source.", content: json(SourceViewSchema) },
    ...BODY_ERRORS,
    ...AUTH_ERRORS,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/sources/{id}",
  tags: ["sources"],
  summary: "Get a source",
  security: SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: "The source with its status.", content: json(SourceViewSchema) },
    400: errorResponse("`id` is not a UUID."),
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/sources/{id}",
  tags: ["sources"],
  summary: "Change a source",
  description: "The fields sent are checked with the same rules as on creation.",
  security: SECURITY,
  request: { params: IdParams, body: { required: true, content: json(SourcePatchSchema) } },
  responses: {
    200: { description: "The source after the change.", content: json(SourceViewSchema) },
    ...BODY_ERRORS,
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/sources/{id}",
  tags: ["sources"],
  summary: "Delete a source",
  description: "Its snapshots, changes, alerts and subscriptions to it go with it.",
  security: SECURITY,
  request: { params: IdParams },
  responses: {
    200: {
      description: "Deleted.",
      content: json(z.object({ id: UuidSchema, deleted: z.literal(true) })),
    },
    400: errorResponse("`id` is not a UUID."),
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

const previewRoute = createRoute({
  method: "post",
  path: "/sources/preview",
  tags: ["sources"],
  summary: "Preview what would be watched at a URL",
  description: "Fetches the URL now through the real pipeline (network policy, redirects, " +
    "size cap, extraction with the selector, normalisation with the ignore patterns) and " +
    "returns the monitored text (capped at 20,000 characters), what each ignore pattern " +
    "removed, the content type, timings, and a classified error when the fetch or the " +
    "extraction failed. Nothing is stored.",
  security: SECURITY,
  request: { body: { required: true, content: json(PreviewRequestSchema) } },
  responses: {
    200: {
      description: "What the pipeline sees (ok false: see `error`).",
      content: json(PreviewResultSchema),
    },
    ...BODY_ERRORS,
    ...AUTH_ERRORS,
  },
});

const CheckResultSchema = z.object({
  run: JobResultSchema,
  outcome: RunSourceOutcomeSchema.nullable().meta({
    description: "What the run did with this source (null when the run skipped it).",
  }),
  source: SourceViewSchema,
}).meta({ id: "SourceCheckResult" });

const checkRoute = createRoute({
  method: "post",
  path: "/sources/{id}/check",
  tags: ["sources"],
  summary: "Check one source now",
  description: "Starts a daily-fetch run limited to this source (`source_ids: [id]`, " +
    "`force: true`) and waits for it, so the check is recorded like any run's: job_runs, " +
    "snapshot or change, alerts. 409 while another run is in progress. An inactive source " +
    "is skipped.",
  security: SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: "The run and this source's outcome.", content: json(CheckResultSchema) },
    400: errorResponse("`id` is not a UUID."),
    ...NOT_FOUND,
    409: errorResponse("A run is already in progress (`run_id` names it)."),
    ...AUTH_ERRORS,
  },
});

const sourceChangesRoute = createRoute({
  method: "get",
  path: "/sources/{id}/changes",
  tags: ["history"],
  summary: "Changes of a source",
  security: SECURITY,
  request: { params: IdParams, query: ChangesQuerySchema.omit({ source_id: true }) },
  responses: {
    200: { description: "Newest first, with diffs.", content: json(ChangeListSchema) },
    400: errorResponse("A bad `id`, `since` or `limit`."),
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

/** Mounts the source routes on `app` (behind the bearer check the app installs). */
export function mountSourceRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorDeps): void {
  const rules = {
    policy: addressPolicy(deps.config),
    resolveHost: deps.resolveHost,
    frequencies: () => deps.sources.frequencies(),
  };
  const found = async (id: string) => {
    const source = await deps.sources.get(id);
    if (source === null) throw new ApiError(404, "not_found", `Cannot find source ${id}`);
    return source;
  };

  app.openapi(listRoute, async (c) => c.json({ sources: await deps.sources.list() }, 200));

  // Before /sources/{id}: "preview" is not an id.
  app.openapi(previewRoute, async (c) => {
    const body = c.req.valid("json");
    const { url: _u, ...offline } = body;
    refuse(await sourceFieldErrors(offline, rules));
    return c.json(
      await previewSource(body, {
        fetch: deps.fetch,
        clock: deps.clock,
        logger: deps.logger,
        config: deps.config,
        resolveHost: deps.resolveHost,
        browser: deps.browser,
      }),
      200,
    );
  });

  app.openapi(createSourceRoute, async (c) => {
    const body = c.req.valid("json");
    refuse(await sourceFieldErrors(body, rules));
    const created = await saving(() => deps.sources.create(body));
    deps.logger.info("Source {id} created", { id: created.id });
    return c.json(created, 201);
  });

  app.openapi(getRoute, async (c) => c.json(await found(c.req.valid("param").id), 200));

  app.openapi(patchRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    refuse(await sourceFieldErrors(patch, rules));
    const updated = await saving(() => deps.sources.update(id, patch));
    if (updated === null) throw new ApiError(404, "not_found", `Cannot find source ${id}`);
    return c.json(updated, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!await deps.sources.remove(id)) {
      throw new ApiError(404, "not_found", `Cannot find source ${id}`);
    }
    deps.logger.info("Source {id} deleted", { id });
    return c.json({ id, deleted: true as const }, 200);
  });

  app.openapi(checkRoute, async (c) => {
    const { id } = c.req.valid("param");
    await found(id);
    const started = await deps.jobs.startRun({ trigger: "manual", force: true, source_ids: [id] });
    const run = started.status === "running"
      ? await deps.jobs.processRun(started.run_id, { wait: true })
      : started;
    const details = await deps.jobs.getRun(run.run_id);
    const outcome = details?.sources.find((s) => s.source_id === id) ?? null;
    return c.json({ run, outcome, source: await found(id) }, 200);
  });

  app.openapi(sourceChangesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    await found(id);
    const changes = await deps.history.listChanges({
      sourceId: id,
      ...(query.since !== undefined ? { since: query.since } : {}),
      limit: query.limit ?? CHANGES_LIMIT.default,
    });
    return c.json({ changes }, 200);
  });
}
