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

/** Ports of the stack's processes (the first two are Supabase's local defaults). */
export const PORTS = {
  gateway: 54321,
  postgres: 54322,
  postgrest: 54331,
  functions: 54332,
  functions2: 54333,
  demo: 54340,
} as const;

/** Supabase's local default JWT secret. */
export const JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** Public URL of the local project (the gateway). */
export const SUPABASE_URL = `http://127.0.0.1:${PORTS.gateway}`;

/** Connection string of the local database (trust authentication on loopback). */
export const DB_URL = `postgresql://postgres@127.0.0.1:${PORTS.postgres}/postgres`;

/** Base URL of the demo site, webhook sink and email capture. */
export const DEMO_URL = `http://127.0.0.1:${PORTS.demo}`;
