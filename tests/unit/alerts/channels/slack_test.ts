import assert from "node:assert/strict";
import {
  fitEscaped,
  SLACK_HEADER_MAX,
  SLACK_SECTION_MAX,
  SLACK_TEXT_MAX,
  slackChannel,
  slackEscape,
  slackTargetError,
} from "../../../../shared/alerts/channels/slack.ts";
import { buildAlertMessage } from "../../../../shared/alerts/message.ts";
import { testAlertConfig } from "../../../fixtures/alert_data.ts";
import { changeMessage, claimedAlert } from "../../../fixtures/alert_messages.ts";

const CONTEXT = {
  config: testAlertConfig(),
  now: new Date("2026-11-28T02:00:07Z"),
  sign: () => Promise.reject(new Error("slack messages are not signed")),
};

interface Block {
  type: string;
  text?: { type: string; text: string; emoji?: boolean };
  elements?: { type: string; text: string }[];
}

const SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX";

function isWellFormed(text: string): boolean {
  return new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(text)) ===
    text;
}

async function render(diff: string, sourceName?: string) {
  const { message, alert } = changeMessage({ diff });
  if (sourceName) {
    alert.source!.name = sourceName;
    Object.assign(
      message,
      buildAlertMessage(alert, {
        ...message.change!,
        source_id: "x",
        snapshot_id: null,
        previous_snapshot_id: null,
      }),
    );
  }
  const delivery = await slackChannel.render(
    message,
    { ...alert.subscription, channel: "slack", target: SLACK_URL },
    CONTEXT,
  );
  return { delivery, body: JSON.parse(delivery.body) as { text: string; blocks: Block[] }, alert };
}

Deno.test("slack channel posts a text fallback and header, summary, diff and context blocks", async () => {
  const { delivery, body, alert } = await render("-old rule\n+new rule\n");
  assert.equal(delivery.headers["content-type"], "application/json");
  assert.match(body.text, /^Policy change: UK Skilled Worker visa rules\n/);
  assert.deepEqual(body.blocks.map((b) => b.type), ["header", "section", "section", "context"]);
  const [header, summary, diff] = body.blocks;
  assert.deepEqual(header!.text, {
    type: "plain_text",
    text: "Policy change: UK Skilled Worker visa rules",
    emoji: true,
  });
  assert.equal(summary!.text!.type, "mrkdwn");
  assert.ok(summary!.text!.text.startsWith(`*<${alert.source!.url}|${alert.source!.name}>*\n`));
  assert.match(summary!.text!.text, /1 line added, 1 removed/);
  assert.equal(diff!.text!.text, "```\n-old rule\n+new rule\n\n```");
});

Deno.test("slack channel cuts a 200 KB diff inside Slack's limits without breaking UTF-8", async () => {
  // Emoji, ZWJ sequences, CJK and entities land at every possible cut position.
  const line = "+ 規則 👩🏽‍⚖️ <tag> & 🇫🇷 x\n";
  const diff = line.repeat(Math.ceil(200 * 1024 / new TextEncoder().encode(line).byteLength));
  const { delivery, body } = await render(diff);
  assert.ok(delivery.body.length < 12_000, "whole message well under Slack's block budget");
  assert.ok(body.text.length <= SLACK_TEXT_MAX);
  for (const block of body.blocks) {
    const text = block.text?.text ?? block.elements?.[0]?.text ?? "";
    assert.ok(isWellFormed(text));
    assert.ok(text.length <= (block.type === "header" ? SLACK_HEADER_MAX : SLACK_SECTION_MAX));
  }
  const code = body.blocks[2]!.text!.text;
  assert.ok(code.startsWith("```\n+ 規則 👩🏽‍⚖️ &lt;tag&gt; &amp; 🇫🇷 x\n"));
  assert.ok(code.endsWith("\n… (truncated)\n```"));
  assert.doesNotMatch(
    code.slice(0, -4),
    /&[a-z]{0,3}\n… \(truncated\)$/,
    "no half entity at the cut",
  );
});

Deno.test("slack channel escapes mrkdwn and keeps a diff's backticks from closing the block", async () => {
  const { body } = await render("+ use ```code``` & <b>\n", "Rules <&> | more");
  const code = body.blocks[2]!.text!.text;
  assert.equal(code.match(/```/g)?.length, 2, "only the fences are triple backticks");
  assert.match(code, /&amp; &lt;b&gt;/);
  assert.match(body.blocks[1]!.text!.text, /\|Rules &lt;&amp;&gt; \| more>\*/);
  assert.equal(
    body.blocks[0]!.text!.text,
    "Policy change: Rules <&> | more",
    "plain text is not escaped",
  );
});

Deno.test("slack channel cuts a long source name in the header to 150 characters", async () => {
  const { body } = await render("+x\n", "Règles 😀 ".repeat(40));
  const header = body.blocks[0]!.text!.text;
  assert.ok(header.length <= SLACK_HEADER_MAX);
  assert.ok(isWellFormed(header));
  assert.ok(header.endsWith("…"));
});

Deno.test("slack channel sends operational alerts without a diff block", async () => {
  const alert = claimedAlert(
    { kind: "source_recovered", event_key: "source_recovered:x:1", payload: {} },
    { channel: "slack", target: SLACK_URL },
  );
  const delivery = await slackChannel.render(
    buildAlertMessage(alert, null),
    alert.subscription,
    CONTEXT,
  );
  const body = JSON.parse(delivery.body) as { blocks: Block[] };
  assert.deepEqual(body.blocks.map((b) => b.type), ["header", "section", "context"]);
  assert.match(body.blocks[0]!.text!.text, /^Source recovered: /);
});

Deno.test("fitEscaped() never leaves a partial entity before the marker", () => {
  const escaped = slackEscape("&".repeat(100));
  for (let max = 30; max < 40; max++) {
    const out = fitEscaped(escaped, max);
    assert.ok(out.length <= max);
    assert.match(out, /^(&amp;)*\n… \(truncated\)$/);
  }
});

Deno.test("slackTargetError() accepts Slack webhook hosts only (and loopback where loopback is allowed)", () => {
  assert.equal(slackTargetError("https://hooks.slack.com/services/T/B/X", false), null);
  assert.equal(slackTargetError("https://hooks.slack-gov.com/services/T/B/X", false), null);
  for (
    const bad of [
      "http://hooks.slack.com/services/T/B/X",
      "https://hooks.slack.com.evil.test/x",
      "https://example.org/hook",
      "https://169.254.169.254/",
    ]
  ) {
    assert.match(slackTargetError(bad, false) ?? "", /must be a Slack webhook URL/, bad);
  }
  assert.match(slackTargetError("http://127.0.0.1:9/hook", false) ?? "", /must be a Slack/);
  assert.equal(slackTargetError("http://127.0.0.1:9/hook", true), null);
});
