import assert from "node:assert/strict";
import {
  migrationDrift,
  type MigrationFile,
  migrationFiles,
} from "../../../supabase/local/stack.ts";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";

const MIGRATIONS = `${REPO_ROOT}/supabase/migrations`;

/** Function name → files of supabase/migrations that create it, and how many times. */
async function definitions(): Promise<Map<string, { files: Set<string>; count: number }>> {
  const defs = new Map<string, { files: Set<string>; count: number }>();
  for (const f of await migrationFiles(MIGRATIONS)) {
    const text = await Deno.readTextFile(`${MIGRATIONS}/${f.file}`);
    for (const m of text.matchAll(/create\s+(?:or\s+replace\s+)?function\s+([\w."]+)\s*\(/gi)) {
      const name = m[1]!.replaceAll('"', "").toLowerCase();
      const d = defs.get(name) ?? { files: new Set(), count: 0 };
      d.files.add(f.file);
      d.count += 1;
      defs.set(name, d);
    }
  }
  return defs;
}

Deno.test("every SQL function is defined in one migration only, and once per overload", async () => {
  const defs = await definitions();
  assert.ok(defs.size >= 10, `found only ${defs.size} function definitions`);
  // The live overloads of each function, as the committed dump lists them.
  const live = new Map<string, number>();
  const schema = await Deno.readTextFile(`${REPO_ROOT}/supabase/schema.sql`);
  for (const m of schema.matchAll(/^CREATE FUNCTION ([\w.]+)\(/gm)) {
    live.set(m[1]!, (live.get(m[1]!) ?? 0) + 1);
  }
  const problems: string[] = [];
  for (const [name, d] of defs) {
    if (d.files.size > 1) problems.push(`${name} is defined in ${[...d.files].join(", ")}`);
    const overloads = live.get(name) ?? 0;
    if (d.count !== overloads) {
      problems.push(`${name}: ${d.count} definitions for ${overloads} live overload(s)`);
    }
  }
  for (const name of live.keys()) {
    if (!defs.has(name)) problems.push(`${name} is in schema.sql but no migration creates it`);
  }
  assert.deepEqual(problems, []);
});

Deno.test("migration files are named YYYYMMDDHHmmss_what.sql with distinct versions", async () => {
  const names: string[] = [];
  for await (const e of Deno.readDir(MIGRATIONS)) names.push(e.name);
  for (const name of names) assert.match(name, /^\d{14}_[a-z0-9_]+\.sql$/);
  const versions = (await migrationFiles(MIGRATIONS)).map((f) => f.version);
  assert.equal(new Set(versions).size, versions.length);
  assert.equal(versions.length, names.length);
});

Deno.test("migrationDrift() names applied migrations whose file changed or disappeared", async (t) => {
  const files: MigrationFile[] = [
    { version: "20261128000100", file: "20261128000100_core.sql", sha256: "a".repeat(64) },
    { version: "20261128000200", file: "20261128000200_pipeline.sql", sha256: "b".repeat(64) },
  ];
  const core = { version: "20261128000100", name: "core" };
  const pipeline = { version: "20261128000200", name: "pipeline" };
  const recorded = new Map([[core.version, "a".repeat(64)], [pipeline.version, "b".repeat(64)]]);

  await t.step("nothing when every applied file is unchanged", () => {
    assert.deepEqual(migrationDrift([core, pipeline], recorded, files), []);
  });
  await t.step("nothing for files not applied yet (db push applies them)", () => {
    assert.deepEqual(migrationDrift([core], recorded, files), []);
    assert.deepEqual(migrationDrift([], new Map(), files), []);
  });
  await t.step("a file edited in place", () => {
    const edited = [files[0]!, { ...files[1]!, sha256: "c".repeat(64) }];
    assert.deepEqual(migrationDrift([core, pipeline], recorded, edited), [
      "20261128000200_pipeline.sql changed since it was applied",
    ]);
  });
  await t.step("a file that disappeared (renamed to another version or deleted)", () => {
    const old = { version: "20261128000700", name: "job_batch_write" };
    assert.deepEqual(migrationDrift([core, old], recorded, files), [
      "20261128000700_job_batch_write.sql was applied but its file is gone",
    ]);
  });
  await t.step("an applied migration without a checksum (a database older than checksums)", () => {
    assert.deepEqual(
      migrationDrift([core, pipeline], new Map([[core.version, "a".repeat(64)]]), files),
      [
        "20261128000200_pipeline.sql was applied before the stack kept checksums",
      ],
    );
  });
});

Deno.test("migrationFiles() hashes the content of each file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/20260101000000_a.sql`, "select 1;\n");
    await Deno.writeTextFile(`${dir}/README.md`, "not a migration");
    const [a, ...rest] = await migrationFiles(dir);
    assert.equal(rest.length, 0);
    assert.equal(a?.version, "20260101000000");
    const before = a!.sha256;
    await Deno.writeTextFile(`${dir}/20260101000000_a.sql`, "select 2;\n");
    assert.notEqual((await migrationFiles(dir))[0]?.sha256, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
