/**
 * Time of each hostile input class through extract + normalise, in process (the inputs of
 * tests/bench/hostile_classes.ts, which also measures peak memory per class in its own
 * process and runs the "before" code). `deno bench -A tests/bench/hostile_bench.ts`
 *
 * The deeply nested HTML classes are left out here: they belong to the HTML extractors'
 * depth-safety work (h15a) and take seconds each until it lands.
 * @module
 */
import { HOSTILE_CASES, runCase } from "./hostile_classes.ts";

for (const c of HOSTILE_CASES) {
  if (c.name.startsWith("html_")) continue;
  const input = await c.make();
  Deno.bench({
    name: `${c.name}: ${c.what}`,
    async fn() {
      const { outcome } = await runCase(input);
      if (outcome.startsWith("crash") || outcome === "internal") throw new Error(outcome);
    },
  });
}
