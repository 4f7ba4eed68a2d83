/**
 * The alert engine's test harness on the local stack's Postgres: the real outbox store
 * (the SQL functions are the only implementation of enqueue, claim, lease, fencing, source
 * health and dead reports), wrapped so a test can make its next calls fail or run a step
 * first, with fakes only at the seams (real loopback sinks for HTTP, a manual clock).
 *
 * Isolation, with the stack's outbox shared by every test and the seed:
 * - by subscription: the store is scoped to the harness's own subscriptions
 *   (`createSupabaseAlertStore(db, { subscriptionIds })` → `p_subscription_ids` of the
 *   RPCs), so the engine never queues for, claims, sends to or reports to anyone else
 *   (not the seed's all-sources subscription, not another test's), and the harness's
 *   own sources and changes are new rows;
 * - by time: the engine's clock starts in 2100, so the rows it writes are never due for
 *   an engine on real time (the `alerts-deliver` cron pass, a real run's retry) — their
 *   `next_attempt_at` and leases are all in the future for it.
 * What is left: an unscoped engine on real time that queues alerts for one of the
 * harness's all-sources subscriptions while a test runs (a real run detecting a change or
 * a failing streak of another source at that moment) would add a row the harness then
 * sees. Test files run one at a time, so only the stack's own hourly cron run can do it.
 *
 * `await using h = await alertHarness()` deletes everything it created.
 * @module
 */
import type postgres from "postgres";
import type { AlertConfig, AlertDeps, AlertStore } from "../../../shared/alerts/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import { createSupabaseAlertStore } from "../../../shared/store/alert_store.ts";
import type { PolicyChange, Subscription } from "../../../shared/types.ts";
import { type ManualClock, manualClock, testAlertConfig } from "../../fixtures/alert_data.ts";
import { serviceDb, sqlClient } from "../_stack.ts";

/** When the engine's clock starts: far ahead of real time (see the module doc). */
export const FUTURE = new Date("2100-01-01T02:00:00.000Z");

/** A store whose methods can be made to fail, or run a step first; otherwise Postgres. */
export interface FaultyAlertStore extends AlertStore {
  /** The next `times` calls of `method` reject with `error`. */
  failNext(method: keyof AlertStore, error: Error, times?: number): void;
  /** The next call of `method` runs `step` first (e.g. a concurrent delete). */
  beforeNext(method: keyof AlertStore, step: () => Promise<void>): void;
}

/** Wraps a real store: fault injection as in tests/integration/jobs/_job_harness.ts. */
export function faultyAlertStore(real: AlertStore): FaultyAlertStore {
  const faults = new Map<keyof AlertStore, { error: Error; remaining: number }>();
  const steps = new Map<keyof AlertStore, () => Promise<void>>();
  const wrapped = {} as Record<keyof AlertStore, unknown>;
  for (const method of Object.keys(real) as Array<keyof AlertStore>) {
    wrapped[method] = async (...args: unknown[]) => {
      const fault = faults.get(method);
      if (fault) {
        fault.remaining -= 1;
        if (fault.remaining <= 0) faults.delete(method);
        throw fault.error;
      }
      const step = steps.get(method);
      if (step) {
        steps.delete(method);
        await step();
      }
      return await (real[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return Object.assign(wrapped as unknown as AlertStore, {
    failNext(method: keyof AlertStore, error: Error, times = 1) {
      faults.set(method, { error, remaining: times });
    },
    beforeNext(method: keyof AlertStore, step: () => Promise<void>) {
      steps.set(method, step);
    },
  });
}

/** A source row of the harness. */
export interface HarnessSource {
  id: string;
  name: string;
  url: string;
}

/** An `alerts` row of the harness's subscriptions. */
export interface AlertRow {
  id: string;
  subscription_id: string;
  policy_change_id: string | null;
  kind: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  sent_at: Date | null;
  error: string | null;
  payload: Record<string, unknown> | null;
}

/** Engine dependencies with the harness's clock and a capturing logger. */
export type HarnessDeps = AlertDeps & {
  clock: ManualClock;
  logger: ReturnType<typeof captureLogger>;
};

/** Everything an engine test needs. */
export interface AlertHarness extends AsyncDisposable {
  sql: postgres.Sql;
  /** The scoped real store, with fault injection. */
  store: FaultyAlertStore;
  /** The engine's clock (shared by every `deps()` of this harness). */
  clock: ManualClock;
  /** Engine dependencies around the store; each call has its own logger. */
  deps(config?: Partial<AlertConfig>): HarnessDeps;
  /** A new source (unique name and URL). */
  source(overrides?: { name?: string; url?: string }): Promise<HarnessSource>;
  /** A recorded policy change of `sourceId`, read back as the engine reads it. */
  change(sourceId: string): Promise<PolicyChange>;
  /** A subscription (webhook, all sources, unless told), added to the store's scope. */
  subscribe(overrides?: Partial<Omit<Subscription, "id">>): Promise<Subscription>;
  /** The outbox rows of the harness's subscriptions, oldest first. */
  rows(): Promise<AlertRow[]>;
  /** Writes source columns, as the job's bookkeeping does before asking for health alerts. */
  setSource(id: string, columns: Record<string, string | number | boolean | null>): Promise<void>;
  /** `sources.failing_alerted` of a source. */
  failingAlerted(id: string): Promise<boolean>;
  /** Switches a subscription on or off. */
  setActive(subscriptionId: string, active: boolean): Promise<void>;
  /** Deletes a policy change (its alerts go with it: on delete cascade). */
  deleteChange(id: string): Promise<void>;
}

const CHANGE_COLUMNS =
  "id, source_id, snapshot_id, previous_snapshot_id, detected_at, diff, summary";

/**
 * Creates a harness around the real store.
 * @example
 * await using h = await alertHarness();
 * const source = await h.source();
 * const change = await h.change(source.id);
 * await h.subscribe({ target: `${sink.url}/hook` });
 * const outcomes = await deliverAlerts(change, h.deps());
 */
export async function alertHarness(): Promise<AlertHarness> {
  const tag = crypto.randomUUID().slice(0, 8);
  const sql = sqlClient();
  const db = await serviceDb();
  const subscriptionIds: string[] = [];
  const sourceIds: string[] = [];
  const store = faultyAlertStore(
    createSupabaseAlertStore(db, { subscriptionIds: () => subscriptionIds }),
  );
  const clock = manualClock(FUTURE);
  let sources = 0;
  return {
    sql,
    store,
    clock,
    deps: (config = {}) => ({
      fetch,
      clock,
      logger: captureLogger(),
      store,
      config: testAlertConfig(config),
    }),
    async source(overrides = {}) {
      sources += 1;
      const name = overrides.name ?? `UK Skilled Worker visa rules ${tag}-${sources}`;
      const url = overrides.url ?? `https://www.gov.example/skilled-worker-${tag}-${sources}`;
      const [row] = await sql<HarnessSource[]>`
        insert into public.sources (name, url) values (${name}, ${url})
        returning id, name, url`;
      sourceIds.push(row!.id);
      return { ...row! };
    },
    async change(sourceId) {
      const { data, error } = await db.from("policy_changes").insert({
        source_id: sourceId,
        diff: "--- a\n+++ b\n@@ -1,2 +1,2 @@\n-Minimum salary: £38,700\n+Minimum salary: £41,700\n",
        summary: {
          lines_added: 1,
          lines_removed: 1,
          first_changed_lines: ["Minimum salary: £41,700"],
        },
      }).select(CHANGE_COLUMNS).single();
      if (error) throw new Error(`Cannot insert a policy change: ${error.message}`);
      return data as PolicyChange;
    },
    async subscribe(overrides = {}) {
      const sub = {
        source_id: null,
        channel: "webhook" as const,
        target: "http://127.0.0.1:9/hook",
        secret: null,
        active: true,
        operational_alerts: false,
        ...overrides,
      };
      const [row] = await sql<{ id: string }[]>`
        insert into public.subscriptions (source_id, channel, target, secret, active,
          operational_alerts)
        values (${sub.source_id}, ${sub.channel}, ${sub.target}, ${sub.secret}, ${sub.active},
          ${sub.operational_alerts})
        returning id`;
      subscriptionIds.push(row!.id);
      return { id: row!.id, ...sub };
    },
    async rows() {
      return [
        ...await sql<AlertRow[]>`
        select id, subscription_id, policy_change_id, kind, status, attempts,
          next_attempt_at, sent_at, error, payload
        from public.alerts where subscription_id = any(${subscriptionIds}::uuid[])
        order by created_at, id`,
      ];
    },
    async setSource(id, columns) {
      await sql`update public.sources set ${sql(columns)} where id = ${id}`;
    },
    async failingAlerted(id) {
      const [row] = await sql<{ failing_alerted: boolean }[]>`
        select failing_alerted from public.sources where id = ${id}`;
      return row!.failing_alerted;
    },
    async setActive(subscriptionId, active) {
      await sql`update public.subscriptions set active = ${active} where id = ${subscriptionId}`;
    },
    async deleteChange(id) {
      await sql`delete from public.policy_changes where id = ${id}`;
    },
    async [Symbol.asyncDispose]() {
      try {
        // Cascades to their changes, alerts and per-source subscriptions.
        await sql`delete from public.sources where id = any(${sourceIds}::uuid[])`;
        await sql`delete from public.subscriptions where id = any(${subscriptionIds}::uuid[])`;
      } finally {
        await sql.end();
      }
    },
  };
}
