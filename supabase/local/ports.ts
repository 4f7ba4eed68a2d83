/**
 * Addresses and well-known values of the Docker-less local stack. Shared by the stack
 * supervisor, its processes and the tests, so every one agrees on them.
 * @module
 */

/** Repository root (two levels above this file). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Where the stack keeps its state: data, keys, pid files and logs. */
export const STATE_DIR = Deno.env.get("STACK_DIR") ?? `${REPO_ROOT}/.stack`;

/** Folder of the log files of every stack process. */
export const LOG_DIR = `${STATE_DIR}/logs`;

/**
 * Added to every port below (`STACK_PORT_OFFSET`, default 0), so that several checkouts on one
 * machine can each run a stack of their own. The contract ports are those of offset 0.
 */
export const PORT_OFFSET = Number(Deno.env.get("STACK_PORT_OFFSET") ?? "0");
if (!Number.isInteger(PORT_OFFSET) || PORT_OFFSET < 0 || PORT_OFFSET > 6000) {
  throw new Error(`Cannot use STACK_PORT_OFFSET: not a whole number from 0 to 6000`);
}

/** Ports of the stack's processes (the first two are Supabase's local defaults). */
export const PORTS = {
  gateway: 54321 + PORT_OFFSET,
  postgres: 54322 + PORT_OFFSET,
  postgrest: 54331 + PORT_OFFSET,
  functions: 54332 + PORT_OFFSET,
  functions2: 54333 + PORT_OFFSET,
  demo: 54340 + PORT_OFFSET,
  /** The bench's fixture site (tools/bench_site.ts). */
  benchSite: 54350 + PORT_OFFSET,
  /** Headless Chromium's remote debugging (CDP) on loopback: BROWSER_WS_ENDPOINT. */
  browser: 54360 + PORT_OFFSET,
} as const;

/** Supabase's local default JWT secret. */
export const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** Public URL of the local project (the gateway). */
export const SUPABASE_URL = `http://127.0.0.1:${PORTS.gateway}`;

/**
 * Connection string of the local database as `postgres` (trust authentication on loopback):
 * the role migrations, the seed and the SQL editor use on a hosted project. Not a superuser.
 */
export const DB_URL = `postgresql://postgres@127.0.0.1:${PORTS.postgres}/postgres`;

/** The CDP endpoint of the stack's Chromium, as the function workers get it. */
export const BROWSER_ENDPOINT = `http://127.0.0.1:${PORTS.browser}`;
/**
 * Connection string as the bootstrap superuser `supabase_admin`, which owns what the platform
 * owns (auth, vault, net, extensions). Only the stack's bootstrap, its pg_net dispatcher and
 * tests that must look behind the platform's back use it.
 */
export const ADMIN_DB_URL = `postgresql://supabase_admin@127.0.0.1:${PORTS.postgres}/postgres`;

/** Base URL of the demo site, webhook sink and email capture. */
export const DEMO_URL = `http://127.0.0.1:${PORTS.demo}`;

/** A loopback port free now (the kernel picks it; a slot or cluster of its own binds it next). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether something accepts TCP connections on loopback `port`. */
export async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
