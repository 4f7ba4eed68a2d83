import assert from "node:assert/strict";
import { realDeps } from "../../../functions/api/deps.ts";
import {
  LOCAL_JWT_SECRET,
  makeAnonKey,
  makeApiKey,
  makeServiceRoleKey,
} from "../../../shared/auth/keys.ts";

const ENV = { SUPABASE_URL: "http://127.0.0.1:1/", LOG_LEVEL: "error" };

Deno.test("realDeps() reads the legacy keys while the project has them", async (t) => {
  for (const name of ["SUPABASE_JWT_SECRET", "JWT_SECRET"]) {
    await t.step(name, async () => {
      const service = await makeServiceRoleKey(LOCAL_JWT_SECRET);
      const deps = await realDeps({
        ...ENV,
        SUPABASE_SERVICE_ROLE_KEY: service,
        [name]: LOCAL_JWT_SECRET,
      });
      assert.equal((await deps.verify({ token: service, apikey: null })).kind, "service_role");
      const anon = await makeAnonKey(LOCAL_JWT_SECRET);
      assert.equal((await deps.verify({ token: anon, apikey: null })).kind, "anon");
      assert.equal(deps.config.API_MAX_BODY_BYTES, 64 * 1024);
    });
  }
});

Deno.test("realDeps() reads the new keys (JSON objects of named keys) and SUPABASE_JWKS", async () => {
  const secret = await makeApiKey("secret");
  const publishable = await makeApiKey("publishable");
  const deps = await realDeps({
    ...ENV,
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: secret }),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: publishable }),
    SUPABASE_JWKS: JSON.stringify({ keys: [] }),
  });
  assert.equal((await deps.verify({ token: null, apikey: secret })).kind, "service_role");
  assert.equal((await deps.verify({ token: null, apikey: publishable })).kind, "anon");
  // Legacy keys are off: a legacy service-role JWT is refused.
  const legacy = await makeServiceRoleKey(LOCAL_JWT_SECRET);
  await assert.rejects(deps.verify({ token: legacy, apikey: null }), /legacy JWT keys/);
});

Deno.test("realDeps() refuses to start without a key or a project URL, or with broken JSON", async () => {
  await assert.rejects(
    realDeps({ ...ENV }),
    /Missing environment variable SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY/,
  );
  await assert.rejects(
    realDeps({ SUPABASE_SERVICE_ROLE_KEY: "k" }),
    /Missing environment variable SUPABASE_URL/,
  );
  await assert.rejects(
    realDeps({ ...ENV, SUPABASE_SECRET_KEYS: "{not json" }),
    /Cannot read environment variable SUPABASE_SECRET_KEYS: not JSON/,
  );
});
