/**
 * Time of each hostile input class through extract + normalise, in process (the inputs of
 * tests/bench/hostile_classes.ts, which also measures peak memory per class in its own
 * process and runs the "before" code). `deno bench -A tests/bench/hostile_bench.ts`
 * @module
 */
import { HOSTILE_CASES } from "../fixtures/hostile_inputs.ts";
import { runCase } from "./hostile_classes.ts";

for (const c of HOSTILE_CASES) {
  const input = await c.make();
  Deno.bench({
    name: `${c.name}: ${c.what}`,
    async fn() {
      const { outcome } = await runCase(input);
      if (outcome.startsWith("crash") || outcome === "internal") throw new Error(outcome);
    },
  });
}
