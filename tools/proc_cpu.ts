/**
 * CPU seconds of this stack's processes from `/proc` (user + system), for the benches:
 * one process, a service by its pid file, and this stack's Postgres (its postmaster, the
 * backends it reaped and its live children; other stacks on the machine run their own).
 * @module
 */
import { STATE_DIR } from "../supabase/local/ports.ts";

const TICK = 100; // clock ticks per second (USER_HZ)

/** CPU of a process (`self`) and of its reaped children, with its name and parent. */
export function statTimes(
  pid: number,
): { self: number; children: number; comm: string; ppid: number } | null {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const comm = raw.slice(raw.indexOf("(") + 1, raw.lastIndexOf(")"));
    const f = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
    // f[0] is field 3 (state): utime = field 14 → f[11]
    return {
      comm,
      ppid: Number(f[1]),
      self: (Number(f[11]) + Number(f[12])) / TICK,
      children: (Number(f[13]) + Number(f[14])) / TICK,
    };
  } catch {
    return null;
  }
}

/** Pid of a stack service from its pid file (`.stack/pids/<service>.pid`). */
export function pidOf(service: string): number {
  return Number(Deno.readTextFileSync(`${STATE_DIR}/pids/${service}.pid`).trim());
}

/** CPU seconds of this stack's Postgres so far, or 0 when it is not running. */
export function stackPostgresCpu(): number {
  let postmaster: number;
  try {
    postmaster = Number(Deno.readTextFileSync(`${STATE_DIR}/pgdata/postmaster.pid`).split("\n")[0]);
  } catch {
    return 0;
  }
  const top = statTimes(postmaster);
  if (!top) return 0;
  let total = top.self + top.children;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = statTimes(Number(e.name));
    if (s && s.ppid === postmaster) total += s.self;
  }
  return total;
}

/** CPU seconds of this stack's PostgREST so far. */
export function postgrestCpu(): number {
  return statTimes(pidOf("postgrest"))?.self ?? 0;
}
