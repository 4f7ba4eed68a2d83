/**
 * The Node globals Deno 2.1.4 (the hosted edge runtime's) gives npm modules only — `Buffer`,
 * `global`, `setImmediate`, `clearImmediate` — set on the isolate for a bundle of the function
 * (supabase/local/stack.ts bundleFunction). A bundle holds the npm packages' code as plain
 * modules, and Deno 2.9.6, whose `deno bundle` writes it, has these globals everywhere, so its
 * output leans on them (cheerio's dependencies read `Buffer`). The project's own code cannot:
 * deno.json's lint includes no-node-globals.
 * @module
 */
import { Buffer } from "node:buffer";
import { clearImmediate, setImmediate } from "node:timers";

/** Sets the globals that are not there yet (Deno 2.9.6 has them: nothing changes there). */
export function installNodeGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.Buffer ??= Buffer;
  g.global ??= globalThis;
  g.setImmediate ??= setImmediate;
  g.clearImmediate ??= clearImmediate;
}
