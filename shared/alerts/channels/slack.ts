/**
 * Slack channel: an incoming-webhook message with a fallback `text` (notifications) and
 * Block Kit blocks: a header, a section with the source link and summary, and a section
 * with a diff excerpt in a code block.
 *
 * Slack's limits: 150 characters in a header's text, 3000 in a section's text, 40,000
 * in a message's `text` (cut by Slack beyond that), and in practice about 12,000 for all
 * blocks together. Everything is cut well within them, at grapheme boundaries, after
 * escaping (`&`, `<`, `>` become entities and count as such).
 * @module
 */
import { truncateText } from "../truncate.ts";
import type { AlertMessage } from "../message.ts";
import type { AlertConfig, AlertSubscription } from "../types.ts";
import { type AlertChannel, type HttpDelivery, PermanentDeliveryError } from "./channel.ts";
import { httpTarget } from "./target_url.ts";
import { ALERT_USER_AGENT } from "./webhook.ts";

/** Slack's maximum length of a header block's text. */
export const SLACK_HEADER_MAX = 150;
/** Slack's maximum length of a section block's text. */
export const SLACK_SECTION_MAX = 3000;
/**
 * Our cap on the message's fallback `text`; Slack allows 40,000 but the text is only
 * shown in notifications when blocks are present.
 */
export const SLACK_TEXT_MAX = 3000;

const FENCE = "```";

/** The Slack channel. */
export const slackChannel: AlertChannel = {
  name: "slack",
  render(message, subscription, context) {
    // Promise.try semantics: a thrown error becomes a rejection, as for async channels.
    return new Promise((resolve) => resolve(_build(message, subscription, context.config)));
  },
};

/** Hosts of Slack's incoming webhooks (Slack and GovSlack). */
export const SLACK_WEBHOOK_HOSTS = new Set(["hooks.slack.com", "hooks.slack-gov.com"]);

/**
 * Why a Slack target cannot be used, or null: it must be an `https://hooks.slack.com/…`
 * (or GovSlack) webhook URL, so a Slack subscription cannot post alerts anywhere else.
 * Where loopback fetches are allowed (FETCH_ALLOW_LOOPBACK: the local stack and tests), a
 * loopback receiver is accepted too.
 */
export function slackTargetError(target: string, allowLoopback: boolean): string | null {
  const url = URL.parse(target);
  if (url === null) return "slack target is not a URL";
  if (url.protocol === "https:" && SLACK_WEBHOOK_HOSTS.has(url.hostname)) return null;
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" ||
    url.hostname === "[::1]";
  if (allowLoopback && loopback) return null;
  return "slack target must be a Slack webhook URL (https://hooks.slack.com/…)";
}

function _build(
  message: AlertMessage,
  subscription: AlertSubscription,
  config: Pick<AlertConfig, "FETCH_ALLOW_LOOPBACK">,
): HttpDelivery {
  const url = httpTarget(subscription.target, "slack target");
  const refused = slackTargetError(url, config.FETCH_ALLOW_LOOPBACK);
  if (refused) throw new PermanentDeliveryError(refused);
  const source = message.source;
  const link = source ? `<${_escapeUrl(source.url)}|${slackEscape(source.name)}>` : "";
  // The source line is the link above.
  const detail = message.lines.filter((line) => !line.startsWith("Source: ")).map(slackEscape)
    .join("\n");
  const summaryText = fitEscaped(
    [link ? `*${link}*` : "", detail].filter(Boolean).join("\n"),
    SLACK_SECTION_MAX,
  );
  const blocks: unknown[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: truncateText(message.title, SLACK_HEADER_MAX, { marker: "…" }).text,
        emoji: true,
      },
    },
    { type: "section", text: { type: "mrkdwn", text: summaryText } },
  ];
  if (message.change && message.change.diff.length > 0) {
    // The fences and newlines around the excerpt count in the section limit.
    const room = SLACK_SECTION_MAX - (FENCE.length * 2 + 2);
    const excerpt = fitEscaped(_defuseFences(message.change.diff), room, true);
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `${FENCE}\n${excerpt}\n${FENCE}` },
    });
  }
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: `alert ${slackEscape(message.alert_id)}` }],
  });
  const fallback = [message.title, ...message.lines].map(slackEscape).join("\n");
  const body = JSON.stringify({ text: fitEscaped(fallback, SLACK_TEXT_MAX), blocks });
  return {
    url,
    headers: {
      "content-type": "application/json",
      "user-agent": ALERT_USER_AGENT,
      "x-alert-id": message.alert_id,
    },
    body,
  };
}

/** Escapes the three characters Slack's mrkdwn reserves. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Cuts already-escaped mrkdwn to `max` UTF-16 units without splitting an entity
 * (`&amp;`) or a grapheme.
 */
export function fitEscaped(escaped: string, max: number, preferLineBreak = false): string {
  const cut = truncateText(escaped, max, { preferLineBreak }).text;
  if (cut.length === escaped.length) return cut;
  // Drop an entity the cut went through: "&am" before the marker.
  const marker = "\n… (truncated)";
  const kept = cut.slice(0, cut.length - marker.length).replace(/&[a-z]{0,3}$/, "");
  return kept + marker;
}

/** A closing fence inside the diff would end the code block early. */
function _defuseFences(text: string): string {
  return slackEscape(text).replace(/```/g, "`\u200b`\u200b`");
}

function _escapeUrl(url: string): string {
  return slackEscape(url).replace(/\|/g, "%7C");
}
