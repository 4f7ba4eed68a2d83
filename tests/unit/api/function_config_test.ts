/**
 * functions/api/deno.json is the function's own import map (Supabase's per-function layout:
 * `supabase functions deploy` bundles with it, the local edge profile runs with it). It must
 * hold exactly what the function's module graph imports, pinned as in the root deno.json.
 */
import assert from "node:assert/strict";
import { ASSETS } from "../../../functions/api/api_docs.ts";
import { REPO_ROOT } from "../../../supabase/local/ports.ts";

interface Info {
  modules: Array<{ dependencies?: Array<{ specifier: string }> }>;
}

Deno.test("functions/api/deno.json maps exactly the bare specifiers the function imports, with the root's pins", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "functions/api/index.ts"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
  const root = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`)).imports as Record<
    string,
    string
  >;
  const fn = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/functions/api/deno.json`))
    .imports as Record<string, string>;
  const bare = new Set(
    info.modules.flatMap((m) => (m.dependencies ?? []).map((d) => d.specifier))
      .filter((s) => !/^(\.|\/|node:|npm:|jsr:|https?:)/.test(s)),
  );
  // The API docs' assets are package files resolved at run time (api_docs.ts).
  for (const asset of Object.values(ASSETS)) bare.add(asset.file);
  const needed = new Set<string>();
  for (const s of bare) {
    const key = s in root
      ? s
      : Object.keys(root).filter((k) => k.endsWith("/") && s.startsWith(k)).sort((a, b) =>
        b.length - a.length
      )[0];
    assert.ok(key, `${s} is not in the root deno.json`);
    needed.add(key);
  }
  assert.deepEqual(Object.keys(fn).sort(), [...needed].sort());
  for (const [k, v] of Object.entries(fn)) assert.equal(v, root[k], `${k} pinned as in deno.json`);
});
