/**
 * Email channel, through an HTTP email API in the style of Resend: `POST EMAIL_API_URL`
 * with `{from, to: [target], subject, text, html}`, `Authorization: Bearer
 * <EMAIL_API_KEY>` (left out when no key is configured, e.g. a local capture server) and
 * `Idempotency-Key: <alert id>` so a retried request is not sent twice.
 *
 * A 401 or 403 from the email API, or a bad EMAIL_API_URL, means our configuration is
 * wrong, not that the recipient refuses the alert: those are retried (fixing the
 * configuration delivers them) rather than dead.
 * @module
 */
import { truncateText } from "../truncate.ts";
import type { AlertMessage } from "../message.ts";
import type { AlertSubscription } from "../types.ts";
import type { AlertChannel, ChannelContext, HttpDelivery } from "./channel.ts";
import { PermanentDeliveryError } from "./channel.ts";
import { httpTarget } from "./target_url.ts";
import { ALERT_USER_AGENT } from "./webhook.ts";

const SUBJECT_MAX = 200;

/** The email channel. */
export const emailChannel: AlertChannel = {
  name: "email",
  render(message, subscription, context) {
    // Promise.try semantics: a thrown error becomes a rejection, as for async channels.
    return new Promise((resolve) => resolve(_build(message, subscription, context)));
  },
};

function _build(
  message: AlertMessage,
  subscription: AlertSubscription,
  context: ChannelContext,
): HttpDelivery {
  const { config } = context;
  let url: string;
  try {
    url = httpTarget(config.EMAIL_API_URL, "EMAIL_API_URL");
  } catch (error) {
    // Our configuration, not the recipient: retried, so fixing it delivers the alert.
    throw new Error((error as Error).message);
  }
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(subscription.target)) {
    throw new PermanentDeliveryError("email target is not an email address");
  }
  const subject = truncateText(message.title.replace(/[\r\n]+/g, " "), SUBJECT_MAX, {
    marker: "…",
  }).text;
  const diff = message.change && message.change.diff.length > 0
    ? truncateText(message.change.diff, config.ALERT_EMAIL_MAX_DIFF_CHARS, {
      preferLineBreak: true,
    }).text
    : null;
  const text = [
    ...message.lines,
    ...(diff === null ? [] : ["", "Diff:", diff]),
    "",
    `Alert ${message.alert_id}`,
  ].join("\n");
  const body = JSON.stringify({
    from: config.EMAIL_FROM,
    to: [subscription.target],
    subject,
    text,
    html: _html(
      message.title,
      message.lines,
      message.source?.url ?? null,
      diff,
      message.alert_id,
    ),
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": ALERT_USER_AGENT,
    "idempotency-key": message.alert_id,
    "x-alert-id": message.alert_id,
  };
  if (config.EMAIL_API_KEY) headers.authorization = `Bearer ${config.EMAIL_API_KEY}`;
  return { url, headers, body, retryableStatuses: [401, 403] };
}

/** Escapes text for HTML element content and attribute values. */
export function htmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function _html(
  title: string,
  lines: string[],
  sourceUrl: string | null,
  diff: string | null,
  alertId: string,
): string {
  const paragraphs = lines.map((line) => {
    const escaped = htmlEscape(line);
    return sourceUrl && line === `Source: ${sourceUrl}`
      ? `<p>Source: <a href="${htmlEscape(sourceUrl)}">${htmlEscape(sourceUrl)}</a></p>`
      : `<p>${escaped}</p>`;
  });
  return [
    "<!doctype html>",
    `<html><body style="font-family: sans-serif">`,
    `<h2>${htmlEscape(title)}</h2>`,
    ...paragraphs,
    ...(diff === null ? [] : [
      `<pre style="background:#f6f8fa;padding:12px;white-space:pre-wrap">${htmlEscape(diff)}</pre>`,
    ]),
    `<p style="color:#888;font-size:12px">Alert ${htmlEscape(alertId)}</p>`,
    "</body></html>",
  ].join("\n");
}
