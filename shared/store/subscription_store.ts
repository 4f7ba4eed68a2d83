/**
 * The operators' reads and writes of subscriptions on supabase-js (service role). The
 * secret is write-only: it is never selected (the API roles cannot select the column at
 * all), only `has_secret` is; Slack targets are shown without their path, which is the
 * webhook's credential.
 * @module
 */
import { z } from "zod";
import {
  type SubscriptionCreate,
  type SubscriptionPatch,
  type SubscriptionView,
  SubscriptionViewSchema,
} from "../operators/schemas.ts";
import { answerOf, type CollectionStore, type Db } from "./client.ts";

/** A subscription with its real target, for the API's own checks and test sends. */
export interface SubscriptionRow extends Omit<SubscriptionView, "target"> {
  target: string;
}

/**
 * What the API does with subscriptions: list (newest first, Slack targets without their
 * path), create, update and remove (its alerts go with it), plus the read of one row with
 * its real target (for the API's checks and test sends; never shown to callers).
 */
export interface SubscriptionStore
  extends CollectionStore<SubscriptionView, SubscriptionCreate, SubscriptionPatch> {
  /** One subscription with its real target, or null. */
  getRow(id: string): Promise<SubscriptionRow | null>;
}

const COLUMNS =
  "id, source_id, channel, target, has_secret, active, operational_alerts, created_at";

/** How a subscription is shown to callers: the path of a Slack webhook is its credential. */
export function viewOf(row: SubscriptionRow): SubscriptionView {
  if (row.channel !== "slack") return row;
  try {
    return { ...row, target: `${new URL(row.target).origin}/…` };
  } catch {
    return { ...row, target: "…" };
  }
}

const RowsSchema = z.array(SubscriptionViewSchema);

/**
 * Creates the subscription store over a service-role client.
 * @example
 * const subs = createSubscriptionStore(db);
 * await subs.create({ channel: "webhook", target: "https://example.org/hook", secret });
 */
export function createSubscriptionStore(db: Db): SubscriptionStore {
  async function getRow(id: string): Promise<SubscriptionRow | null> {
    const answer = await db.from("subscriptions").select(COLUMNS).eq("id", id);
    return answerOf(`Cannot read subscription ${id}`, RowsSchema, answer)[0] ?? null;
  }

  return {
    async list() {
      const answer = await db.from("subscriptions").select(COLUMNS)
        .order("created_at", { ascending: false }).order("id").limit(10_000);
      return answerOf("Cannot list subscriptions", RowsSchema, answer).map(viewOf);
    },

    getRow,

    async create(fields) {
      const answer = await db.from("subscriptions").insert(fields).select(COLUMNS);
      const row = answerOf("Cannot create the subscription", RowsSchema, answer)[0];
      if (row === undefined) throw new Error("Cannot create the subscription: no row returned");
      return viewOf(row);
    },

    async update(id, patch) {
      const answer = await db.from("subscriptions").update(patch).eq("id", id).select(COLUMNS);
      const row = answerOf(`Cannot update subscription ${id}`, RowsSchema, answer)[0];
      return row === undefined ? null : viewOf(row);
    },

    async remove(id) {
      const answer = await db.from("subscriptions").delete().eq("id", id).select("id");
      const rows = answerOf(`Cannot delete subscription ${id}`, z.array(z.unknown()), answer);
      return rows.length > 0;
    },
  };
}
