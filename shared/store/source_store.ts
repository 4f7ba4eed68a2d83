/**
 * The operators' reads and writes of sources on supabase-js (service role): the list with
 * status (`public.source_status`), create, patch, delete, and the known check frequencies.
 * Answers are parsed with zod (`answerOf`); a broken constraint comes back as a `DbError`
 * that `constraintFieldError` (db_error.ts) maps to a field.
 * @module
 */
import { z } from "zod";
import {
  type SourceCreate,
  type SourcePatch,
  type SourceView,
  SourceViewSchema,
} from "../operators/schemas.ts";
import { answerOf, type CollectionStore, type Db } from "./client.ts";

/**
 * What the API does with sources: list (by name, with status), create, update and
 * remove (its snapshots, changes and alerts go with it), plus one read and the frequencies.
 */
export interface SourceStore extends CollectionStore<SourceView, SourceCreate, SourcePatch> {
  /** One source with its status, or null. */
  get(id: string): Promise<SourceView | null>;
  /** Names of the check frequencies (`check_frequencies.name`). */
  frequencies(): Promise<string[]>;
}

const COLUMNS = "id, name, url, active, check_frequency, css_selector, ignore_patterns, render, " +
  "created_at, updated_at, last_checked_at, last_success_at, last_change_at, next_due_at, " +
  "consecutive_failures, last_error, last_error_class";

const IdRowSchema = z.object({ id: z.string() });
const NameRowSchema = z.object({ name: z.string() });

/**
 * Creates the source store over a service-role client.
 * @example
 * const sources = createSourceStore(serviceClient(url, key));
 * const { id } = await sources.create({ name: "Terms", url: "https://example.org/terms" });
 */
export function createSourceStore(db: Db): SourceStore {
  async function get(id: string): Promise<SourceView | null> {
    const answer = await db.from("source_status").select(COLUMNS).eq("id", id).maybeSingle();
    return answerOf(`Cannot read source ${id}`, SourceViewSchema.nullable(), answer);
  }

  return {
    async list() {
      const answer = await db.from("source_status").select(COLUMNS)
        .order("name").order("id").limit(10_000);
      return answerOf("Cannot list sources", z.array(SourceViewSchema), answer);
    },

    get,

    async create(fields) {
      const answer = await db.from("sources").insert(fields).select("id").single();
      const { id } = answerOf("Cannot create the source", IdRowSchema, answer);
      const created = await get(id);
      if (created === null) throw new Error(`Cannot read source ${id} after creating it`);
      return created;
    },

    async update(id, patch) {
      const answer = await db.from("sources").update(patch).eq("id", id).select("id");
      const updated = answerOf(`Cannot update source ${id}`, z.array(IdRowSchema), answer);
      return updated.length === 0 ? null : await get(id);
    },

    async remove(id) {
      const answer = await db.from("sources").delete().eq("id", id).select("id");
      return answerOf(`Cannot delete source ${id}`, z.array(IdRowSchema), answer).length > 0;
    },

    async frequencies() {
      const answer = await db.from("check_frequencies").select("name").order("name");
      const rows = answerOf("Cannot read the check frequencies", z.array(NameRowSchema), answer);
      return rows.map((r) => r.name);
    },
  };
}
