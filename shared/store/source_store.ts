/**
 * The operators' reads and writes of sources on supabase-js (service role): the list with
 * status (`public.source_status`), create, patch, delete, and the known check frequencies.
 * Answers are parsed with zod; a broken constraint comes back as a {@link DbError} that
 * {@link constraintFieldError} maps to a field.
 * @module
 */
import { z } from "zod";
import {
  type SourceCreate,
  type SourcePatch,
  type SourceView,
  SourceViewSchema,
} from "../operators/schemas.ts";
import type { Db } from "./client.ts";
import { DbError } from "./db_error.ts";

/** What the API does with sources. */
export interface SourceStore {
  /** Every source with its status, by name. */
  list(): Promise<SourceView[]>;
  /** One source with its status, or null. */
  get(id: string): Promise<SourceView | null>;
  /** Inserts a source (already validated); resolves to it with its status. */
  create(fields: SourceCreate): Promise<SourceView>;
  /** Applies a patch; null when no source has this id. */
  update(id: string, patch: SourcePatch): Promise<SourceView | null>;
  /** Deletes a source (its snapshots, changes and alerts go with it); false when absent. */
  remove(id: string): Promise<boolean>;
  /** Names of the check frequencies (`check_frequencies.name`). */
  frequencies(): Promise<string[]>;
}

const COLUMNS = "id, name, url, active, check_frequency, css_selector, ignore_patterns, render, " +
  "created_at, updated_at, last_checked_at, last_success_at, last_change_at, next_due_at, " +
  "consecutive_failures, last_error, last_error_class";

function _parse<T>(what: string, schema: z.ZodType<T>, data: unknown): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new Error(`${what}: unexpected answer: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/**
 * Creates the source store over a service-role client.
 * @example
 * const sources = createSourceStore(serviceClient(url, key));
 * const { id } = await sources.create({ name: "Terms", url: "https://example.org/terms" });
 */
export function createSourceStore(db: Db): SourceStore {
  async function get(id: string): Promise<SourceView | null> {
    const { data, error } = await db.from("source_status").select(COLUMNS).eq("id", id)
      .maybeSingle();
    if (error) throw new DbError(`Cannot read source ${id}`, error);
    return data === null ? null : _parse(`Cannot read source ${id}`, SourceViewSchema, data);
  }

  return {
    async list() {
      const { data, error } = await db.from("source_status").select(COLUMNS)
        .order("name").order("id").limit(10_000);
      if (error) throw new DbError("Cannot list sources", error);
      return _parse("Cannot list sources", z.array(SourceViewSchema), data);
    },

    get,

    async create(fields) {
      const { data, error } = await db.from("sources").insert(fields).select("id").single();
      if (error) throw new DbError("Cannot create the source", error);
      const id = _parse("Cannot create the source", z.object({ id: z.string() }), data).id;
      const created = await get(id);
      if (created === null) throw new Error(`Cannot read source ${id} after creating it`);
      return created;
    },

    async update(id, patch) {
      const { data, error } = await db.from("sources").update(patch).eq("id", id).select("id");
      if (error) throw new DbError(`Cannot update source ${id}`, error);
      if (!Array.isArray(data) || data.length === 0) return null;
      return await get(id);
    },

    async remove(id) {
      const { data, error } = await db.from("sources").delete().eq("id", id).select("id");
      if (error) throw new DbError(`Cannot delete source ${id}`, error);
      return Array.isArray(data) && data.length > 0;
    },

    async frequencies() {
      const { data, error } = await db.from("check_frequencies").select("name").order("name");
      if (error) throw new DbError("Cannot read the check frequencies", error);
      return _parse(
        "Cannot read the check frequencies",
        z.array(z.object({ name: z.string() })),
        data,
      )
        .map((r) => r.name);
    },
  };
}
