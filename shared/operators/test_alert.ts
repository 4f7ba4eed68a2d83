/**
 * The test alert of a subscription: a message clearly marked as a test (event `test`,
 * title "Test alert: ..."), rendered by the subscription's real channel, signed by the
 * database like every alert when the subscription has a secret, checked against the
 * network policy, and sent with the alert engine's own delivery code. Nothing is written
 * to the outbox.
 * @module
 */
import { pinnedConnect } from "../pipeline/pinned_connect.ts";
import { sendDelivery } from "../alerts/http_delivery.ts";
import { CHANNELS, PermanentDeliveryError } from "../alerts/channels/mod.ts";
import type { AlertMessage } from "../alerts/message.ts";
import type { AlertConfig } from "../alerts/types.ts";
import type { Clock, FetchFn } from "../types.ts";
import { type UrlRuleDeps, urlRuleError } from "./rules.ts";
import type { SubscriptionRow } from "../store/subscription_store.ts";

/** Dependencies of {@link sendTestAlert}. */
export interface TestAlertDeps extends UrlRuleDeps {
  fetch: FetchFn;
  clock: Clock;
  config: AlertConfig;
  /** Hex HMAC-SHA256 of a body with the subscription's secret (the alert store's signBody). */
  sign: (subscriptionId: string, body: string) => Promise<string>;
}

/** What the test send did. */
export interface TestAlertResult {
  delivered: boolean;
  channel: SubscriptionRow["channel"];
  http_status: number | null;
  error: string | null;
  alert_id: string;
}

/** The message of a test alert. */
export function testAlertMessage(now: Date, alertId: string = crypto.randomUUID()): AlertMessage {
  const diff =
    "--- before\n+++ after\n@@ -1 +1 @@\n-This is a test alert.\n+This is a test alert: nothing changed.";
  return {
    alert_id: alertId,
    kind: "test",
    source: {
      id: "00000000-0000-0000-0000-000000000000",
      name: "Test source",
      url: "https://example.org/test-alert",
    },
    change: {
      id: "00000000-0000-0000-0000-000000000000",
      detected_at: now.toISOString(),
      diff,
      summary: { lines_added: 1, lines_removed: 1, first_changed_lines: ["This is a test alert."] },
    },
    details: { test: true },
    title: "Test alert: policy change monitor",
    lines: [
      "This is a test alert sent from the policy change monitor to check this subscription.",
      "No policy changed.",
      `Sent at: ${now.toISOString()}`,
    ],
  };
}

/**
 * Sends the test alert to `subscription` through its channel. Never throws for what the
 * receiver does: `delivered: false` with the reason.
 */
export async function sendTestAlert(
  subscription: SubscriptionRow,
  deps: TestAlertDeps,
): Promise<TestAlertResult> {
  const now = deps.clock();
  const message = testAlertMessage(now);
  const base = { channel: subscription.channel, alert_id: message.alert_id };
  try {
    const channel = CHANNELS[subscription.channel];
    const delivery = await channel.render(message, { ...subscription }, {
      config: deps.config,
      now,
      sign: (body) => deps.sign(subscription.id, body),
    });
    // The e-mail channel posts to the configured e-mail API, not to the subscriber.
    const refused = await urlRuleError(delivery.url, deps);
    if (refused !== null) {
      return { ...base, delivered: false, http_status: null, error: `Target refused: ${refused}` };
    }
    const sent = await sendDelivery(delivery, {
      fetch: deps.fetch,
      timeoutMs: deps.config.ALERT_TIMEOUT_MS,
      now,
      // The same guard as every delivery: checked address, pinned connection.
      policy: deps.policy,
      resolveHost: deps.resolveHost,
      connect: pinnedConnect,
    });
    return {
      ...base,
      delivered: sent.ok,
      http_status: sent.status ?? null,
      error: sent.ok ? null : sent.error ?? "not delivered",
    };
  } catch (error) {
    // The channel refuses the target for good (not a URL, not an address): say so.
    if (!(error instanceof PermanentDeliveryError)) throw error;
    return { ...base, delivered: false, http_status: null, error: error.message };
  }
}
