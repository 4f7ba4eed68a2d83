/**
 * Webhook channel: a JSON POST to the subscription's URL.
 *
 * Body: `{ event, alert_id, timestamp, source: {id, name, url}, change: {id, detected_at,
 * diff, summary, diff_truncated} }` for policy changes, `details` instead of `change` for
 * operational events. Headers: `X-Alert-Id` and `Idempotency-Key` (the alert id, the same
 * on every retry, so receivers can dedupe), `X-Alert-Event`, `X-Signature-Timestamp`
 * (equal to the body's `timestamp`, unix seconds) and, when the subscription has a
 * secret, `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`: the timestamp
 * is inside the signed body, so the signature covers it.
 * @module
 */
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../signature.ts";
import { truncateText } from "../truncate.ts";
import type { AlertChannel } from "./channel.ts";
import { httpTarget } from "./target_url.ts";

/** User agent of alert requests. */
export const ALERT_USER_AGENT = "PolicyChangeMonitor-Alerts/1.0";

/** The webhook channel. */
export const webhookChannel: AlertChannel = {
  name: "webhook",
  async render(message, subscription, context) {
    const url = httpTarget(subscription.target, "webhook target");
    const timestamp = Math.floor(context.now.getTime() / 1000);
    const payload: Record<string, unknown> = {
      event: message.kind,
      alert_id: message.alert_id,
      timestamp,
      source: message.source,
    };
    if (message.change) {
      const diff = truncateText(message.change.diff, context.config.ALERT_WEBHOOK_MAX_DIFF_BYTES, {
        measure: "utf8",
        preferLineBreak: true,
      });
      payload.change = {
        id: message.change.id,
        detected_at: message.change.detected_at,
        diff: diff.text,
        diff_truncated: diff.truncated,
        summary: message.change.summary,
      };
    } else {
      payload.details = message.details ?? {};
    }
    payload.title = message.title;
    payload.text = message.lines.join("\n");
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": ALERT_USER_AGENT,
      "x-alert-id": message.alert_id,
      "idempotency-key": message.alert_id,
      "x-alert-event": message.kind,
      [TIMESTAMP_HEADER.toLowerCase()]: String(timestamp),
    };
    if (subscription.has_secret) {
      headers[SIGNATURE_HEADER.toLowerCase()] = `sha256=${await context.sign(body)}`;
    }
    return { url, headers, body };
  },
};
