/**
 * `deno task monitor <command>`: the operators' API from a terminal. Talks to the API of
 * the local stack (nothing to set) or of a hosted project (`SUPABASE_URL` and a key or
 * token in `MONITOR_TOKEN`, `SUPABASE_SECRET_KEY` or `SUPABASE_SERVICE_ROLE_KEY`).
 *
 *   sources list | add | edit <id> | rm <id> | preview [<id>] | check <id> | changes <id>
 *   subs list | add | rm <id> | test <id>
 *   run [--force] [--source <id>]...     start a run and show a progress line until it ends
 *   runs [--limit N] | runs show <id>
 *   changes [--source <id>] [--since <time>] [--limit N] [--diff]
 *   alerts [--status failed,dead] | alerts retry <id>
 *   feed token <name> | feed tokens | feed revoke <id>
 *
 * `--json` prints the API's answer instead of a table. Exit code 1 on an API error (its
 * message and field details are printed), 2 on a usage error.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { errorMessage } from "../shared/errors.ts";
import { sleep } from "../shared/sleep.ts";

/** Where the API is and how to authorise. */
export interface Target {
  /** Project URL, e.g. http://127.0.0.1:54321 or https://<ref>.supabase.co. */
  url: string;
  /** Service-role / secret key, or an admin user's access token. */
  token: string;
}

/** A failed API call: status, code, message and field details as the API sent them. */
export class ApiCallError extends Error {
  /** Wraps the error body of an answer. */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = "ApiCallError";
  }
}

class UsageError extends Error {}

/** Reads the target from the environment, else the local stack's. */
export async function resolveTarget(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<Target> {
  const url = env.SUPABASE_URL?.replace(/\/+$/, "");
  const token = env.MONITOR_TOKEN || env.SUPABASE_SECRET_KEY || env.SUPABASE_SERVICE_ROLE_KEY;
  if (url && token) return { url, token };
  if (url && !token) {
    throw new UsageError(
      "SUPABASE_URL is set but no key: set MONITOR_TOKEN (an admin user's access token), " +
        "SUPABASE_SECRET_KEY or SUPABASE_SERVICE_ROLE_KEY",
    );
  }
  // The local stack: its URL (with STACK_PORT_OFFSET) and its service-role key.
  const { SUPABASE_URL } = await import("../supabase/local/ports.ts");
  const { readKeys } = await import("../supabase/local/keys.ts");
  const keys = await readKeys().catch(() => null);
  if (keys === null) {
    throw new UsageError("No SUPABASE_URL and no local stack keys: run `deno task stack:start`");
  }
  return { url: SUPABASE_URL, token: token ?? keys.serviceRoleKey };
}

/** A small client of the operators' API. */
export function apiClient(target: Target, fetchFn: typeof fetch = fetch) {
  const base = `${target.url}/functions/v1/api`;
  return async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetchFn(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        apikey: target.token,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = {};
    try {
      parsed = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new ApiCallError(res.status, "not_json", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    if (res.status >= 400) {
      const e = (parsed as { error?: { code?: string; message?: string; details?: [] } }).error;
      throw new ApiCallError(
        res.status,
        e?.code ?? "error",
        e?.message ?? `HTTP ${res.status}`,
        e?.details ?? [],
      );
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

// ---------------------------------------------------------------------------
// Output

/** Renders rows as an aligned text table with a header line (columns: the first row's keys). */
export function table(
  rows: Record<string, unknown>[],
  columns: string[] = Object.keys(rows[0] ?? {}),
): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((row) => columns.map((c) => _cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n");
}

function _cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  const flat = text.replace(/\s+/g, " ");
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}

function _when(iso: unknown): string {
  if (typeof iso !== "string") return "-";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

function _short(id: unknown): string {
  return typeof id === "string" ? id : "-";
}

// ---------------------------------------------------------------------------
// Commands

type Call = ReturnType<typeof apiClient>;
type Out = (line: string) => void;

const SOURCE_OPTIONS = {
  name: { type: "string" },
  url: { type: "string" },
  selector: { type: "string" },
  "no-selector": { type: "boolean" },
  ignore: { type: "string", multiple: true },
  "no-ignore": { type: "boolean" },
  frequency: { type: "string" },
  active: { type: "string" },
  json: { type: "boolean" },
} as const;

type _Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function _parse(
  args: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
): { values: _Values; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function _need(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`Missing ${what}`);
  return value;
}

function _opt(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * What a run did with one source (a per-source outcome of `GET /api/jobs/runs/{id}`), in
 * words; `otherwise` when it neither failed, changed nor stored a baseline.
 */
export function outcomeText(outcome: Record<string, unknown>, otherwise: string): string {
  return outcome.status === "failed"
    ? `failed: ${outcome.error_class}: ${outcome.error_message}`
    : outcome.changed
    ? `changed (change ${outcome.policy_change_id})`
    : outcome.baseline
    ? "baseline stored"
    : otherwise;
}

/** `?k=v&…` of the given options (none: ""); unset and empty ones are left out. */
function _query(options: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) {
    const given = _opt(value);
    if (given) query.set(name, given);
  }
  return query.size > 0 ? `?${query}` : "";
}

function _sourceFields(v: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (typeof v.name === "string") fields.name = v.name;
  if (typeof v.url === "string") fields.url = v.url;
  if (typeof v.selector === "string") fields.css_selector = v.selector;
  if (v["no-selector"] === true) fields.css_selector = null;
  if (Array.isArray(v.ignore)) fields.ignore_patterns = v.ignore;
  if (v["no-ignore"] === true) fields.ignore_patterns = [];
  if (typeof v.frequency === "string") fields.check_frequency = v.frequency;
  if (typeof v.active === "string") {
    if (!["true", "false"].includes(v.active)) throw new UsageError("--active is true or false");
    fields.active = v.active === "true";
  }
  return fields;
}

function _printSources(out: Out, sources: Record<string, unknown>[]): void {
  out(table(
    sources.map((s) => ({
      id: s.id,
      name: s.name,
      freq: s.check_frequency,
      active: s.active ? "yes" : "no",
      "last check": _when(s.last_checked_at),
      "last change": _when(s.last_change_at),
      fails: s.consecutive_failures,
      "next due": s.next_due_at === null ? "next run" : _when(s.next_due_at),
      error: s.last_error_class,
    })),
  ));
}

function _printSource(out: Out, s: Record<string, unknown>): void {
  out(`source ${s.id}: ${s.name}`);
  out(`  url:        ${s.url}`);
  out(`  selector:   ${s.css_selector ?? "(main content)"}`);
  const patterns = s.ignore_patterns as string[];
  out(`  ignore:     ${patterns.length === 0 ? "(none)" : patterns.join("  |  ")}`);
  out(`  frequency:  ${s.check_frequency}${s.active ? "" : " (inactive)"}`);
  out(
    `  last check: ${_when(s.last_checked_at)}  last change: ${_when(s.last_change_at)}  ` +
      `failures: ${s.consecutive_failures}`,
  );
  if (s.last_error) out(`  last error: ${s.last_error_class}: ${s.last_error}`);
}

function _printPreview(out: Out, p: Record<string, unknown>): void {
  const t = p.timings as Record<string, number>;
  out(`preview ${p.url}`);
  out(
    `  status: ${p.ok ? "ok" : "FAILED"}  http: ${p.http_status ?? "-"}  type: ${
      p.content_type ?? "-"
    }  time: ${t.total_ms} ms (fetch ${t.fetch_ms}, extract ${t.extract_ms}, normalise ${t.normalise_ms})`,
  );
  const error = p.error as { class: string; message: string } | null;
  if (error) out(`  error: ${error.class}: ${error.message}`);
  for (const e of p.ignore_patterns as { pattern: string; matches: number; samples: string[] }[]) {
    out(
      `  ignore ${JSON.stringify(e.pattern)}: removed ${e.matches}${
        e.samples.length > 0 ? ` (${e.samples.map((s) => JSON.stringify(s)).join(", ")})` : ""
      }`,
    );
  }
  if (p.ok) {
    out(`  monitored text (${p.text_chars} chars${p.text_truncated ? ", truncated" : ""}):`);
    for (const line of String(p.text).split("\n")) out(`    | ${line}`);
  }
}

function _printSubscriptions(out: Out, subs: Record<string, unknown>[]): void {
  out(table(
    subs.map((s) => ({
      id: s.id,
      channel: s.channel,
      target: s.target,
      source: s.source_id ?? "all",
      signed: s.has_secret ? "yes" : "no",
      ops: s.operational_alerts ? "yes" : "no",
      active: s.active ? "yes" : "no",
    })),
  ));
}

function _printRuns(out: Out, runs: Record<string, unknown>[]): void {
  out(table(
    runs.map((r) => ({
      run: r.run_id,
      status: r.status,
      trigger: r.trigger,
      started: _when(r.started_at),
      ok: r.sources_succeeded,
      failed: r.sources_failed,
      skipped: r.sources_skipped,
      changes: r.changes_detected,
      alerts: r.alerts_sent,
    })),
  ));
}

function _printChanges(out: Out, changes: Record<string, unknown>[], withDiff: boolean): void {
  if (!withDiff) {
    out(table(
      changes.map((c) => {
        const s = c.summary as { lines_added: number; lines_removed: number };
        return {
          change: c.id,
          detected: _when(c.detected_at),
          source: c.source_name,
          "+/-": `+${s.lines_added} -${s.lines_removed}`,
        };
      }),
    ));
    return;
  }
  if (changes.length === 0) out("(none)");
  for (const c of changes) {
    out(`change ${c.id}  ${_when(c.detected_at)}  ${c.source_name}`);
    for (const line of String(c.diff).split("\n")) out(`  ${line}`);
    out("");
  }
}

/** Starts a run in the background and prints a progress line until it ends. */
async function _runWithProgress(
  call: Call,
  out: Out,
  body: Record<string, unknown>,
  isTty: boolean,
  pollMs: number,
): Promise<Record<string, unknown>> {
  const started = await call("POST", "/jobs/daily-fetch", body, { prefer: "respond-async" });
  const runId = String(started.body.run_id);
  if (started.status === 200) {
    out(`run ${runId}: ${started.body.status} (nothing to do)`);
    return started.body;
  }
  out(`run ${runId} started`);
  let last = "";
  for (;;) {
    const { body: run } = await call<Record<string, unknown>>("GET", `/jobs/runs/${runId}`);
    const p = run.progress as { done: number; total: number };
    const line = `progress: ${p.done}/${p.total} sources, ${run.changes_detected} changes, ` +
      `${run.sources_failed} failed, ${run.alerts_sent} alerts (${run.status})`;
    if (line !== last) {
      if (isTty) {
        await Deno.stdout.write(new TextEncoder().encode(`\r\x1b[2K${line}`));
      } else out(line);
      last = line;
    }
    if (run.status !== "running") {
      if (isTty) out("");
      for (const s of run.sources as Record<string, unknown>[]) {
        out(`  ${s.source_name}: ${outcomeText(s, String(s.status))}`);
      }
      return run;
    }
    await sleep(pollMs);
  }
}

/** Options of {@link runMonitor}. */
export interface MonitorOptions {
  call: Call;
  out?: Out;
  isTty?: boolean;
  pollMs?: number;
}

/** Runs one CLI command; resolves to the exit code. */
export async function runMonitor(argv: string[], options: MonitorOptions): Promise<number> {
  const { call } = options;
  const out = options.out ?? ((line: string) => console.log(line));
  const isTty = options.isTty ?? false;
  const [group, sub, ...rest] = argv;
  const json = (value: unknown) => out(JSON.stringify(value, null, 2));
  /** Prints `body` as JSON with --json, else as `human` writes it for a terminal. */
  const show = (asJson: unknown, body: unknown, human: () => void) => asJson ? json(body) : human();
  /** DELETE `<collection>/<id>` of the `noun` named in the arguments; says it is `done`. */
  const remove = async (collection: string, noun: string, id: unknown, done = "deleted") => {
    const given = _need(id, `${noun} id`);
    await call("DELETE", `${collection}/${given}`);
    out(`${done} ${noun} ${given}`);
    return 0;
  };

  switch (group) {
    case "sources": {
      const { values: v, positionals: pos } = _parse(rest, SOURCE_OPTIONS);
      switch (sub) {
        case "list": {
          const { body } = await call<{ sources: Record<string, unknown>[] }>("GET", "/sources");
          show(v.json, body, () => _printSources(out, body.sources));
          return 0;
        }
        case "add": {
          const fields = _sourceFields(v);
          _need(fields.name as string, "--name");
          _need(fields.url as string, "--url");
          const { body } = await call("POST", "/sources", fields);
          show(v.json, body, () => {
            out(`added source ${body.id}`);
            _printSource(out, body);
          });
          return 0;
        }
        case "edit": {
          const id = _need(pos[0], "source id");
          const { body } = await call("PATCH", `/sources/${id}`, _sourceFields(v));
          show(v.json, body, () => _printSource(out, body));
          return 0;
        }
        case "show": {
          const { body } = await call("GET", `/sources/${_need(pos[0], "source id")}`);
          show(v.json, body, () => _printSource(out, body));
          return 0;
        }
        case "rm":
          return await remove("/sources", "source", pos[0]);
        case "preview": {
          let request: Record<string, unknown>;
          if (pos[0] !== undefined) {
            const { body: s } = await call("GET", `/sources/${pos[0]}`);
            request = {
              url: s.url,
              css_selector: s.css_selector,
              ignore_patterns: s.ignore_patterns,
            };
            const overrides = _sourceFields(v);
            for (const [k, val] of Object.entries(overrides)) {
              if (["url", "css_selector", "ignore_patterns"].includes(k)) request[k] = val;
            }
          } else {
            const f = _sourceFields(v);
            request = { url: _need(f.url as string, "--url or a source id") };
            if (f.css_selector !== undefined) request.css_selector = f.css_selector;
            if (f.ignore_patterns !== undefined) request.ignore_patterns = f.ignore_patterns;
          }
          const { body } = await call("POST", "/sources/preview", request);
          show(v.json, body, () => _printPreview(out, body));
          return body.ok ? 0 : 1;
        }
        case "check": {
          const id = _need(pos[0], "source id");
          out(`checking source ${id} (a run limited to it)…`);
          const { body } = await call("POST", `/sources/${id}/check`);
          if (v.json) {
            json(body);
            return 0;
          }
          const run = body.run as Record<string, unknown>;
          const o = body.outcome as Record<string, unknown> | null;
          const what = o === null ? "skipped (inactive?)" : outcomeText(o, "unchanged");
          out(`run ${run.run_id} (${run.status}): ${what}`);
          return o?.status === "failed" ? 1 : 0;
        }
        case "changes": {
          const id = _need(pos[0], "source id");
          const { body } = await call<{ changes: Record<string, unknown>[] }>(
            "GET",
            `/sources/${id}/changes`,
          );
          show(v.json, body, () => _printChanges(out, body.changes, true));
          return 0;
        }
      }
      break;
    }
    case "subs": {
      const { values: v, positionals: pos } = _parse(rest, {
        channel: { type: "string" },
        target: { type: "string" },
        secret: { type: "string" },
        source: { type: "string" },
        operational: { type: "boolean" },
        json: { type: "boolean" },
      });
      switch (sub) {
        case "list": {
          const { body } = await call<{ subscriptions: Record<string, unknown>[] }>(
            "GET",
            "/subscriptions",
          );
          show(v.json, body, () => _printSubscriptions(out, body.subscriptions));
          return 0;
        }
        case "add": {
          const fields: Record<string, unknown> = {
            channel: _need(v.channel, "--channel (webhook, slack or email)"),
            target: _need(v.target, "--target"),
          };
          if (v.secret !== undefined) fields.secret = v.secret;
          if (v.source !== undefined) fields.source_id = v.source;
          if (v.operational) fields.operational_alerts = true;
          const { body } = await call("POST", "/subscriptions", fields);
          show(v.json, body, () => {
            out(`added subscription ${body.id}`);
            _printSubscriptions(out, [body]);
          });
          return 0;
        }
        case "rm":
          return await remove("/subscriptions", "subscription", pos[0]);
        case "test": {
          const id = _need(pos[0], "subscription id");
          const { body } = await call("POST", `/subscriptions/${id}/test`);
          show(v.json, body, () => {
            out(
              body.delivered
                ? `test alert delivered through ${body.channel} (HTTP ${body.http_status})`
                : `test alert NOT delivered through ${body.channel}: ${body.error}`,
            );
          });
          return body.delivered ? 0 : 1;
        }
      }
      break;
    }
    case "run": {
      const { values: v } = _parse([sub, ...rest].filter((a) => a !== undefined), {
        force: { type: "boolean" },
        source: { type: "string", multiple: true },
        json: { type: "boolean" },
      });
      const body: Record<string, unknown> = {};
      if (v.force) body.force = true;
      if (v.source) body.source_ids = v.source;
      const run = await _runWithProgress(call, out, body, isTty, options.pollMs ?? 500);
      if (v.json) json(run);
      return run.status === "failed" ? 1 : 0;
    }
    case "runs": {
      const args = sub === "show" ? rest : [sub, ...rest].filter((a) => a !== undefined);
      const { values: v, positionals: pos } = _parse(args, {
        limit: { type: "string" },
        json: { type: "boolean" },
      });
      if (sub === "show") {
        const { body } = await call("GET", `/jobs/runs/${_need(pos[0], "run id")}`);
        show(v.json, body, () => {
          _printRuns(out, [body]);
          out(table(
            (body.sources as Record<string, unknown>[]).map((s) => ({
              source: s.source_name,
              status: s.status,
              changed: s.changed ? "yes" : "",
              error: s.error_class,
            })),
          ));
        });
        return 0;
      }
      const limit = _opt(v.limit) ?? "10";
      const { body } = await call<{ runs: Record<string, unknown>[] }>(
        "GET",
        `/jobs/runs?limit=${encodeURIComponent(limit)}`,
      );
      show(v.json, body, () => _printRuns(out, body.runs));
      return 0;
    }
    case "changes": {
      const { values: v } = _parse([sub, ...rest].filter((a) => a !== undefined), {
        source: { type: "string" },
        since: { type: "string" },
        limit: { type: "string" },
        diff: { type: "boolean" },
        json: { type: "boolean" },
      });
      const query = _query({ source_id: v.source, since: v.since, limit: v.limit });
      const { body } = await call<{ changes: Record<string, unknown>[] }>(
        "GET",
        `/changes${query}`,
      );
      show(v.json, body, () => _printChanges(out, body.changes, v.diff === true));
      return 0;
    }
    case "alerts": {
      const args = sub === "retry" ? rest : [sub, ...rest].filter((a) => a !== undefined);
      const { values: v, positionals: pos } = _parse(args, {
        status: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
      });
      if (sub === "retry") {
        const { body } = await call("POST", `/alerts/${_need(pos[0], "alert id")}/retry`);
        const alert = body.alert as Record<string, unknown>;
        show(v.json, body, () => {
          out(`alert ${alert.id}: ${alert.status}${alert.error ? ` (${alert.error})` : ""}`);
        });
        return body.delivered ? 0 : 1;
      }
      const query = _query({ status: v.status, limit: v.limit });
      const { body } = await call<{ alerts: Record<string, unknown>[] }>(
        "GET",
        `/alerts${query}`,
      );
      show(v.json, body, () => {
        out(table(
          body.alerts.map((a) => ({
            alert: a.id,
            kind: a.kind,
            status: a.status,
            channel: a.channel,
            attempts: a.attempts,
            updated: _when(a.updated_at),
            error: a.error,
          })),
        ));
      });
      return 0;
    }
    case "feed": {
      const { values: v, positionals: pos } = _parse(rest, { json: { type: "boolean" } });
      if (sub === "token") {
        const { body } = await call("POST", "/feeds/tokens", { name: _need(pos[0], "a name") });
        show(v.json, body, () => {
          out(`feed token ${body.id} (${body.name}); shown once:`);
          out(`  ${body.feed_url}`);
        });
        return 0;
      }
      if (sub === "tokens") {
        const { body } = await call<{ tokens: Record<string, unknown>[] }>("GET", "/feeds/tokens");
        show(v.json, body, () => {
          out(table(
            body.tokens.map((t) => ({
              id: t.id,
              name: t.name,
              created: _when(t.created_at),
              "last used": _when(t.last_used_at),
              revoked: _when(t.revoked_at),
            })),
          ));
        });
        return 0;
      }
      if (sub === "revoke") return await remove("/feeds/tokens", "feed token", pos[0], "revoked");
      break;
    }
  }
  throw new UsageError(`Unknown command: ${[group, sub].filter(Boolean).join(" ") || "(none)"}`);
}

const USAGE = `usage: deno task monitor <command>
  sources list | show <id> | add --name N --url U [--selector S] [--ignore RE]... [--frequency F]
          edit <id> [--name N] [--url U] [--selector S | --no-selector] [--ignore RE]... [--no-ignore]
               [--frequency F] [--active true|false]
          rm <id> | preview (--url U [--selector S] [--ignore RE]... | <id>) | check <id> | changes <id>
  subs    list | add --channel webhook|slack|email --target T [--secret S] [--source <id>] [--operational]
          rm <id> | test <id>
  run     [--force] [--source <id>]...
  runs    [--limit N] | show <id>
  changes [--source <id>] [--since <ISO time>] [--limit N] [--diff]
  alerts  [--status failed,dead] [--limit N] | retry <id>
  feed    token <name> | tokens | revoke <id>
  (--json on any command prints the API's answer)
env: SUPABASE_URL + MONITOR_TOKEN (admin access token) or SUPABASE_SECRET_KEY or
     SUPABASE_SERVICE_ROLE_KEY; without SUPABASE_URL, the local stack.`;

if (import.meta.main) {
  let code: number;
  try {
    if (Deno.args.length === 0 || Deno.args[0] === "help" || Deno.args.includes("--help")) {
      console.log(USAGE);
      Deno.exit(0);
    }
    const target = await resolveTarget();
    code = await runMonitor(Deno.args, {
      call: apiClient(target),
      isTty: Deno.stdout.isTerminal(),
    });
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n\n${USAGE}`);
      code = 2;
    } else if (error instanceof ApiCallError) {
      console.error(`error: ${error.message} (HTTP ${error.status} ${error.code})`);
      for (const d of error.details) console.error(`  ${d.path}: ${d.message}`);
      code = 1;
    } else {
      console.error(`error: ${errorMessage(error)}`);
      code = 1;
    }
  }
  Deno.exit(code);
}
