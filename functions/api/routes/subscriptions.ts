/**
 * Subscriptions: who is alerted, through which channel. Channel rules at save time: a
 * webhook URL through the network policy, Slack incoming-webhook hosts only, e-mail
 * addresses; the signing secret is write-only. A test alert goes through the real channel.
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
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
import { viewOf } from "../../../shared/store/subscription_store.ts";
import { collectionRoutes, itemRoute } from "../openapi_parts.ts";
import { found, notFoundError, type OperatorDeps, savingChecked } from "./_shared.ts";

const RULES = "Channel rules: `webhook` targets are http(s) URLs checked against the network " +
  "policy; `slack` targets are Slack incoming-webhook URLs (https://hooks.slack.com/...); " +
  "`email` targets are e-mail addresses; only webhooks take a `secret` (16 to 512 " +
  "characters), which signs each body (`X-Signature-256`) and is never returned.";

const routes = collectionRoutes({
  path: "/subscriptions",
  tag: "subscriptions",
  noun: "subscription",
  schemas: {
    list: SubscriptionListSchema,
    view: SubscriptionViewSchema,
    create: SubscriptionCreateSchema,
    patch: SubscriptionPatchSchema,
  },
  docs: {
    list: { summary: "List subscriptions", ok: "Newest first." },
    create: {
      summary: "Subscribe to changes",
      description: `${RULES} \`source_id\` null or absent: all sources.`,
      ok: "The new subscription.",
    },
    get: { summary: "Get a subscription", ok: "The subscription." },
    patch: {
      summary: "Change a subscription",
      description: `${RULES} \`secret: null\` removes the secret.`,
      ok: "After the change.",
    },
    remove: { summary: "Delete a subscription", ok: "Deleted." },
  },
});

const testRoute = itemRoute({
  method: "post",
  path: "/subscriptions/{id}/test",
  tag: "subscriptions",
  noun: "subscription",
  doc: {
    summary: "Send a test alert",
    description: 'Sends a message clearly marked as a test (webhook `event: "test"`, title ' +
      '"Test alert: ...") through the subscription\'s real channel, signed like every alert ' +
      "when it has a secret. Nothing is written to the outbox. 200 either way: `delivered` " +
      "and `error` say what the receiver did.",
    ok: "What the receiver did.",
  },
  ok: TestAlertResultSchema,
});

/** Mounts the subscription routes on `app`. */
export function mountSubscriptionRoutes(app: OpenAPIHono<AuthEnv>, deps: OperatorDeps): void {
  const rules = { policy: addressPolicy(deps.config), resolveHost: deps.resolveHost };
  const row = async (id: string) => found("subscription", id, await deps.subscriptions.getRow(id));

  app.openapi(routes.list, async (c) => {
    return c.json({ subscriptions: await deps.subscriptions.list() }, 200);
  });

  app.openapi(routes.create, async (c) => {
    const body = c.req.valid("json");
    const errors = await subscriptionFieldErrors(body, rules);
    const created = await savingChecked(errors, () => deps.subscriptions.create(body));
    deps.logger.info("Subscription {id} created ({channel})", {
      id: created.id,
      channel: created.channel,
    });
    return c.json(created, 201);
  });

  app.openapi(routes.get, async (c) => c.json(viewOf(await row(c.req.valid("param").id)), 200));

  app.openapi(routes.patch, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const current = await row(id);
    const errors = await subscriptionFieldErrors({
      channel: patch.channel ?? current.channel,
      target: patch.target ?? current.target,
      // A secret kept from before must fit the new channel too.
      secret: patch.secret !== undefined ? patch.secret : current.has_secret ? "(kept)" : null,
    }, rules);
    const updated = await savingChecked(errors, () => deps.subscriptions.update(id, patch));
    return c.json(found("subscription", id, updated), 200);
  });

  app.openapi(routes.remove, async (c) => {
    const { id } = c.req.valid("param");
    if (!await deps.subscriptions.remove(id)) throw notFoundError("subscription", id);
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
