/**
 * Sources: list with status, create, read, patch, delete, preview a URL, check one source
 * now, and a source's changes. Every write is checked with the pipeline's own rules first
 * (shared/operators/rules.ts), then by the database's constraints.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
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
import { JobResultSchema, RunSourceOutcomeSchema } from "../../../shared/schemas.ts";
import {
  bearerRoute,
  BODY_ERRORS,
  collectionRoutes,
  errorResponse,
  IdParams,
  itemRoute,
  json,
  notFound,
} from "../openapi_parts.ts";
import { found, notFoundError, type OperatorDeps, refuse, savingChecked } from "./_shared.ts";
import { CHANGES_LIMIT, ChangesQuerySchema } from "./history.ts";

const routes = collectionRoutes({
  path: "/sources",
  tag: "sources",
  noun: "source",
  schemas: {
    list: SourceListSchema,
    view: SourceViewSchema,
    create: SourceCreateSchema,
    patch: SourcePatchSchema,
  },
  docs: {
    list: {
      summary: "List sources with their status",
      description: "Every source with its last check, last change, failure streak and next " +
        "due time.",
      ok: "The sources, by name.",
    },
    create: {
      summary: "Add a source",
      description: "Checked at save time with the pipeline's rules: the URL parsed and checked " +
        "against the network policy (the addresses its host resolves to), the CSS selector " +
        "compiled by the extractor's engine, the ignore patterns compiled as they will run, a " +
        "known check frequency. The first fetch of a new source is a baseline, not a change.",
      ok: "The new source.",
    },
    get: { summary: "Get a source", ok: "The source with its status." },
    patch: {
      summary: "Change a source",
      description: "The fields sent are checked with the same rules as on creation.",
      ok: "The source after the change.",
    },
    remove: {
      summary: "Delete a source",
      description: "Its snapshots, changes, alerts and subscriptions to it go with it.",
      ok: "Deleted.",
    },
  },
});

const previewRoute = bearerRoute({
  method: "post",
  path: "/sources/preview",
  tags: ["sources"],
  summary: "Preview what would be watched at a URL",
  description: "Fetches the URL now through the real pipeline (network policy, redirects, " +
    "size cap, extraction with the selector, normalisation with the ignore patterns) and " +
    "returns the monitored text (capped at 20,000 characters), what each ignore pattern " +
    "removed, the content type, timings, and a classified error when the fetch or the " +
    "extraction failed. Nothing is stored.",
  request: { body: { required: true, content: json(PreviewRequestSchema) } },
  responses: {
    200: {
      description: "What the pipeline sees (ok false: see `error`).",
      content: json(PreviewResultSchema),
    },
    ...BODY_ERRORS,
  },
});

const CheckResultSchema = z.object({
  run: JobResultSchema,
  outcome: RunSourceOutcomeSchema.nullable().meta({
    description: "What the run did with this source (null when the run skipped it).",
  }),
  source: SourceViewSchema,
}).meta({ id: "SourceCheckResult" });

const checkRoute = itemRoute({
  method: "post",
  path: "/sources/{id}/check",
  tag: "sources",
  noun: "source",
  doc: {
    summary: "Check one source now",
    description: "Starts a daily-fetch run limited to this source (`source_ids: [id]`, " +
      "`force: true`) and waits for it, so the check is recorded like any run's: job_runs, " +
      "snapshot or change, alerts. 409 while another run is in progress. An inactive source " +
      "is skipped.",
    ok: "The run and this source's outcome.",
  },
  ok: CheckResultSchema,
  extra: { 409: errorResponse("A run is already in progress (`run_id` names it).") },
});

const sourceChangesRoute = bearerRoute({
  method: "get",
  path: "/sources/{id}/changes",
  tags: ["history"],
  summary: "Changes of a source",
  request: { params: IdParams, query: ChangesQuerySchema.omit({ source_id: true }) },
  responses: {
    200: { description: "Newest first, with diffs.", content: json(ChangeListSchema) },
    400: errorResponse("A bad `id`, `since` or `limit`."),
    ...notFound("source"),
  },
});

/** Mounts the source routes on `app` (behind the bearer check the app installs). */
export function mountSourceRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorDeps): void {
  const rules = {
    policy: addressPolicy(deps.config),
    resolveHost: deps.resolveHost,
    frequencies: () => deps.sources.frequencies(),
  };
  const source = async (id: string) => found("source", id, await deps.sources.get(id));

  app.openapi(routes.list, async (c) => c.json({ sources: await deps.sources.list() }, 200));

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

  app.openapi(routes.create, async (c) => {
    const body = c.req.valid("json");
    const errors = await sourceFieldErrors(body, rules);
    const created = await savingChecked(errors, () => deps.sources.create(body));
    deps.logger.info("Source {id} created", { id: created.id });
    return c.json(created, 201);
  });

  app.openapi(routes.get, async (c) => c.json(await source(c.req.valid("param").id), 200));

  app.openapi(routes.patch, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const errors = await sourceFieldErrors(patch, rules);
    const updated = await savingChecked(errors, () => deps.sources.update(id, patch));
    return c.json(found("source", id, updated), 200);
  });

  app.openapi(routes.remove, async (c) => {
    const { id } = c.req.valid("param");
    if (!await deps.sources.remove(id)) throw notFoundError("source", id);
    deps.logger.info("Source {id} deleted", { id });
    return c.json({ id, deleted: true as const }, 200);
  });

  app.openapi(checkRoute, async (c) => {
    const { id } = c.req.valid("param");
    await source(id);
    const started = await deps.jobs.startRun({ trigger: "manual", force: true, source_ids: [id] });
    const run = started.status === "running"
      ? await deps.jobs.processRun(started.run_id, { wait: true })
      : started;
    const details = await deps.jobs.getRun(run.run_id);
    const outcome = details?.sources.find((s) => s.source_id === id) ?? null;
    return c.json({ run, outcome, source: await source(id) }, 200);
  });

  app.openapi(sourceChangesRoute, async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    await source(id);
    const changes = await deps.history.listChanges({
      sourceId: id,
      ...(query.since !== undefined ? { since: query.since } : {}),
      limit: query.limit ?? CHANGES_LIMIT.default,
    });
    return c.json({ changes }, 200);
  });
}
