/**
 * Subscriptions: who is alerted, through which channel. Channel rules at save time: a
 * webhook URL through the network policy, Slack incoming-webhook hosts only, e-mail
 * addresses; the signing secret is write-only. A test alert goes through the real channel.
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AuthEnv } from "../../../shared/auth/middleware.ts";
import { addressPolicy, subscriptionFieldErrors } from "../../../shared/operators/rules.ts";
import {
  SubscriptionCreateSchema,
  SubscriptionListSchema,
  SubscriptionPatchSchema,
  SubscriptionViewSchema,
  TestAlertResultSchema,
} from "../../../shared/operators/schemas.ts";
import { sendTestAlert } from "../../../shared/operators/test_alert.ts";
import { UuidSchema } from "../../../shared/schemas.ts";
import { viewOf } from "../../../shared/store/subscription_store.ts";
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

const IdParams = z.object({ id: UuidSchema.meta({ param: { name: "id", in: "path" } }) });
const NOT_FOUND = { 404: errorResponse("No subscription has this id.") };

const RULES = "Channel rules: `webhook` targets are http(s) URLs checked against the network " +
  "policy; `slack` targets are Slack incoming-webhook URLs (https://hooks.slack.com/...); " +
  "`email` targets are e-mail addresses; only webhooks take a `secret` (16 to 512 " +
  "characters), which signs each body (`X-Signature-256`) and is never returned.";

const listRoute = createRoute({
  method: "get",
  path: "/subscriptions",
  tags: ["subscriptions"],
  summary: "List subscriptions",
  security: SECURITY,
  responses: {
    200: { description: "Newest first.", content: json(SubscriptionListSchema) },
    ...AUTH_ERRORS,
  },
});

const createSubscriptionRoute = createRoute({
  method: "post",
  path: "/subscriptions",
  tags: ["subscriptions"],
  summary: "Subscribe to changes",
  description: `${RULES} \`source_id\` null or absent: all sources.`,
  security: SECURITY,
  request: { body: { required: true, content: json(SubscriptionCreateSchema) } },
  responses: {
    201: { description: "The new subscription.", content: json(SubscriptionViewSchema) },
    ...BODY_ERRORS,
    ...AUTH_ERRORS,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/subscriptions/{id}",
  tags: ["subscriptions"],
  summary: "Get a subscription",
  security: SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: "The subscription.", content: json(SubscriptionViewSchema) },
    400: errorResponse("`id` is not a UUID."),
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/subscriptions/{id}",
  tags: ["subscriptions"],
  summary: "Change a subscription",
  description: `${RULES} \`secret: null\` removes the secret.`,
  security: SECURITY,
  request: { params: IdParams, body: { required: true, content: json(SubscriptionPatchSchema) } },
  responses: {
    200: { description: "After the change.", content: json(SubscriptionViewSchema) },
    ...BODY_ERRORS,
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/subscriptions/{id}",
  tags: ["subscriptions"],
  summary: "Delete a subscription",
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

const testRoute = createRoute({
  method: "post",
  path: "/subscriptions/{id}/test",
  tags: ["subscriptions"],
  summary: "Send a test alert",
  description: 'Sends a message clearly marked as a test (webhook `event: "test"`, title ' +
    '"Test alert: ...") through the subscription\'s real channel, signed like every alert ' +
    "when it has a secret. Nothing is written to the outbox. 200 either way: `delivered` " +
    "and `error` say what the receiver did.",
  security: SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: "What the receiver did.", content: json(TestAlertResultSchema) },
    400: errorResponse("`id` is not a UUID."),
    ...NOT_FOUND,
    ...AUTH_ERRORS,
  },
});

/** Mounts the subscription routes on `app`. */
export function mountSubscriptionRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorDeps): void {
  const rules = { policy: addressPolicy(deps.config), resolveHost: deps.resolveHost };
  const row = async (id: string) => {
    const found = await deps.subscriptions.getRow(id);
    if (found === null) throw new ApiError(404, "not_found", `Cannot find subscription ${id}`);
    return found;
  };

  app.openapi(listRoute, async (c) => {
    return c.json({ subscriptions: await deps.subscriptions.list() }, 200);
  });

  app.openapi(createSubscriptionRoute, async (c) => {
    const body = c.req.valid("json");
    refuse(await subscriptionFieldErrors(body, rules));
    const created = await saving(() => deps.subscriptions.create(body));
    deps.logger.info("Subscription {id} created ({channel})", {
      id: created.id,
      channel: created.channel,
    });
    return c.json(created, 201);
  });

  app.openapi(getRoute, async (c) => c.json(viewOf(await row(c.req.valid("param").id)), 200));

  app.openapi(patchRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const current = await row(id);
    refuse(
      await subscriptionFieldErrors({
        channel: patch.channel ?? current.channel,
        target: patch.target ?? current.target,
        // A secret kept from before must fit the new channel too.
        secret: patch.secret !== undefined ? patch.secret : current.has_secret ? "(kept)" : null,
      }, rules),
    );
    const updated = await saving(() => deps.subscriptions.update(id, patch));
    if (updated === null) throw new ApiError(404, "not_found", `Cannot find subscription ${id}`);
    return c.json(updated, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!await deps.subscriptions.remove(id)) {
      throw new ApiError(404, "not_found", `Cannot find subscription ${id}`);
    }
    return c.json({ id, deleted: true as const }, 200);
  });

  app.openapi(testRoute, async (c) => {
    const subscription = await row(c.req.valid("param").id);
    const result = await sendTestAlert(subscription, {
      ...rules,
      fetch: deps.fetch,
      clock: deps.clock,
      config: deps.config,
      sign: (id, body) => deps.alerts.signBody(id, body),
    });
    deps.logger.info("Test alert to subscription {id}: {outcome}", {
      id: subscription.id,
      outcome: result.delivered ? "delivered" : `not delivered: ${result.error}`,
    });
    return c.json(result, 200);
  });
}
