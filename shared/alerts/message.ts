/**
 * The channel-neutral content of an alert: what happened, to which source, in a title
 * and a few plain-text lines. Channels format it (JSON, Slack blocks, email).
 * @module
 */
import { redactSourceUrl } from "./redact_url.ts";
import type { ChangeSummary, PolicyChange } from "../types.ts";
import { truncateText } from "./truncate.ts";
import type { AlertKind, AlertSource, ClaimedAlert } from "./types.ts";

/** The change an alert announces, as sent to recipients. */
export interface AlertChange {
  id: string;
  detected_at: string;
  diff: string;
  summary: ChangeSummary;
}

/** What an alert says, independent of the channel. */
export interface AlertMessage {
  alert_id: string;
  /** What happened; `test` for the test alert an operator sends to check a subscription. */
  kind: AlertKind | "test";
  source: AlertSource | null;
  change: AlertChange | null;
  /** Event data of operational alerts (`alerts.payload`). */
  details: Record<string, unknown> | null;
  /** One line, e.g. "Policy change: UK Skilled Worker visa rules". */
  title: string;
  /** Plain-text description, without the diff. */
  lines: string[];
}

const MAX_CHANGED_LINES = 5;
const MAX_LINE_CHARS = 300;

/**
 * Builds the message of a claimed alert; `change` is required for policy_change alerts.
 * Throws when it is missing (the change was deleted).
 */
export function buildAlertMessage(alert: ClaimedAlert, change: PolicyChange | null): AlertMessage {
  // Credentials in the monitored URL never go out in an alert (redact_url.ts).
  const source = alert.source ? { ...alert.source, url: redactSourceUrl(alert.source.url) } : null;
  const name = source?.name ?? "unknown source";
  const base = { alert_id: alert.id, kind: alert.kind, source, details: alert.payload };
  switch (alert.kind) {
    case "policy_change": {
      if (!change) {
        throw new Error(`policy change ${alert.policy_change_id ?? "(none)"} no longer exists`);
      }
      const summary = normaliseSummary(change.summary);
      const lines = [
        `${name} changed: ${_plural(summary.lines_added, "line")} added, ` +
        `${summary.lines_removed} removed.`,
      ];
      if (source) lines.push(`Source: ${source.url}`);
      lines.push(`Detected at: ${change.detected_at}`);
      const first = summary.first_changed_lines.slice(0, MAX_CHANGED_LINES);
      if (first.length > 0) {
        lines.push("First changed lines:");
        for (const line of first) lines.push(`  ${_clip(line)}`);
      }
      return {
        ...base,
        details: null,
        title: `Policy change: ${name}`,
        change: { id: change.id, detected_at: change.detected_at, diff: change.diff, summary },
        lines,
      };
    }
    case "source_failing": {
      const d = alert.payload ?? {};
      const lines = [
        `${name} has failed ${_plural(_num(d.consecutive_failures), "consecutive check")}.`,
      ];
      if (source) lines.push(`Source: ${source.url}`);
      if (typeof d.last_error === "string" && d.last_error) {
        const cls = typeof d.last_error_class === "string" ? ` (${d.last_error_class})` : "";
        lines.push(`Last error${cls}: ${_clip(d.last_error)}`);
      }
      lines.push(
        `Last success: ${typeof d.last_success_at === "string" ? d.last_success_at : "never"}`,
      );
      lines.push("You will get one more alert when it recovers.");
      return { ...base, change: null, title: `Source failing: ${name}`, lines };
    }
    case "source_recovered": {
      const d = alert.payload ?? {};
      const lines = [`${name} was fetched successfully again.`];
      if (source) lines.push(`Source: ${source.url}`);
      if (typeof d.recovered_at === "string") lines.push(`Recovered at: ${d.recovered_at}`);
      return { ...base, change: null, title: `Source recovered: ${name}`, lines };
    }
    case "run_missed": {
      const d = alert.payload ?? {};
      const job = typeof d.job_name === "string" ? d.job_name : "daily-fetch";
      const by = typeof d.expected_at === "string" ? ` by ${d.expected_at}` : "";
      const lines = [`The scheduled ${job} run did not start${by}.`];
      if (typeof d.noticed_at === "string") lines.push(`Noticed at: ${d.noticed_at}`);
      if (typeof d.message === "string" && d.message) lines.push(_clip(d.message));
      if (Array.isArray(d.errors)) {
        for (const e of d.errors.slice(0, 3)) if (typeof e === "string") lines.push(_clip(e));
      }
      return { ...base, change: null, title: `Run missed: ${job}`, lines };
    }
    case "alert_dead": {
      const d = alert.payload ?? {};
      const what = typeof d.alert_kind === "string" ? d.alert_kind.replaceAll("_", " ") : "an";
      const by = typeof d.channel === "string" ? ` by ${d.channel}` : "";
      const about = source ? ` about ${name}` : "";
      const lines = [
        `A ${what} alert${about} could not be delivered${by} and was given up after ` +
        `${_plural(_num(d.attempts), "attempt")}.`,
      ];
      if (source) lines.push(`Source: ${source.url}`);
      if (typeof d.error === "string" && d.error) lines.push(`Last error: ${_clip(d.error)}`);
      if (typeof d.subscription_id === "string") {
        lines.push(`Subscription: ${d.subscription_id}`);
      }
      if (typeof d.alert_id === "string") {
        lines.push(`Alert: ${d.alert_id} (send it again: POST /api/alerts/${d.alert_id}/retry)`);
      }
      return {
        ...base,
        change: null,
        title: `Alert given up: ${source ? name : what.replace(/^./, (c) => c.toUpperCase())}`,
        lines,
      };
    }
  }
}

/** Reads a stored summary defensively (the column defaults to `{}`). */
export function normaliseSummary(value: unknown): ChangeSummary {
  const v = (value && typeof value === "object" ? value : {}) as Partial<ChangeSummary>;
  return {
    lines_added: _num(v.lines_added),
    lines_removed: _num(v.lines_removed),
    first_changed_lines: Array.isArray(v.first_changed_lines)
      ? v.first_changed_lines.filter((l): l is string => typeof l === "string")
      : [],
  };
}

function _num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function _plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function _clip(line: string): string {
  return truncateText(line, MAX_LINE_CHARS, { marker: "…" }).text;
}
