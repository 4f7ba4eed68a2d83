/**
 * `deno task demo`: brings the local stack up and runs the daily-fetch job once on the demo
 * data through the real path (HTTP → gateway → edge function → database), printing a
 * progress line while it runs and the JobResult at the end. Only the seed's demo sources
 * are run (`source_ids`), so sources an operator added are left alone. `--force` (default)
 * makes every demo source due; `--due` respects check_frequency.
 * @module
 */
import { outcomeText } from "../../tools/monitor.ts";
import { start } from "./stack.ts";
import { readKeys } from "./keys.ts";
import { LOG_DIR, SUPABASE_URL } from "./ports.ts";

const force = !Deno.args.includes("--due");
/** The seed's demo sources (supabase/seed.sql): the only ones the demo touches. */
const DEMO_SOURCE_IDS = [
  "00000000-0000-4000-8000-000000000001",
  "00000000-0000-4000-8000-000000000002",
  "00000000-0000-4000-8000-000000000003",
];

await start();
const { serviceRoleKey } = await readKeys();
const auth = { authorization: `Bearer ${serviceRoleKey}` };

const res = await fetch(`${SUPABASE_URL}/functions/v1/api/jobs/daily-fetch`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/json", prefer: "respond-async" },
  body: JSON.stringify({ force, source_ids: DEMO_SOURCE_IDS }),
});
const started = await res.json();
if (res.status !== 202) {
  console.error(`demo: the job did not start: HTTP ${res.status} ${JSON.stringify(started)}`);
  Deno.exit(1);
}
console.log(`demo: run ${started.run_id} started (${res.headers.get("location")})`);

let last = "";
for (;;) {
  const r = await fetch(`${SUPABASE_URL}/functions/v1/api/jobs/runs/${started.run_id}`, {
    headers: auth,
  });
  const run = await r.json();
  if (r.status !== 200) {
    console.error(`demo: cannot read the run: HTTP ${r.status} ${JSON.stringify(run)}`);
    Deno.exit(1);
  }
  const line = `progress: ${run.progress.done}/${run.progress.total} sources done, ` +
    `${run.changes_detected} changes, ${run.sources_failed} failed (${run.status})`;
  if (line !== last) console.log(line);
  last = line;
  if (run.status !== "running") {
    const { progress: _p, sources, ...result } = run;
    console.log("JobResult:");
    console.log(JSON.stringify(result, null, 2));
    for (const s of sources) console.log(`  ${s.source_name}: ${outcomeText(s, s.status)}`);
    console.log(
      `demo: webhook deliveries are printed in ${LOG_DIR}/demo-site.log; edit a page with\n` +
        `  curl -s -X POST http://127.0.0.1:54340/admin/edit -d '{"page":"visa-rules","find":"90 days","replace":"60 days"}'\n` +
        `and run the demo again to see a change detected and delivered.`,
    );
    Deno.exit(run.status === "failed" ? 1 : 0);
  }
  await new Promise((r) => setTimeout(r, 250));
}
