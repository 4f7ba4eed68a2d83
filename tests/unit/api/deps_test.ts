import assert from "node:assert/strict";
import { realDeps } from "../../../functions/api/deps.ts";
import { LOCAL_JWT_SECRET, makeAnonKey, makeServiceRoleKey } from "../../../shared/auth/keys.ts";

const ENV = {
  SUPABASE_URL: "http://127.0.0.1:1/",
  SUPABASE_SERVICE_ROLE_KEY: "service-key",
  LOG_LEVEL: "error",
};

Deno.test("realDeps() builds a verifier from SUPABASE_JWT_SECRET or JWT_SECRET", async (t) => {
  for (const name of ["SUPABASE_JWT_SECRET", "JWT_SECRET"]) {
    await t.step(name, async () => {
      const deps = await realDeps({ ...ENV, [name]: LOCAL_JWT_SECRET });
      const caller = await deps.verify(await makeServiceRoleKey(LOCAL_JWT_SECRET));
      assert.equal(caller.kind, "service_role");
      assert.equal((await deps.verify(await makeAnonKey(LOCAL_JWT_SECRET))).kind, "anon");
      assert.equal(deps.config.API_MAX_BODY_BYTES, 64 * 1024);
    });
  }
});

Deno.test("realDeps() refuses to start without a JWT secret or a project URL", async () => {
  await assert.rejects(
    realDeps({ ...ENV }),
    /Missing environment variable SUPABASE_JWT_SECRET or JWT_SECRET/,
  );
  await assert.rejects(
    realDeps({ SUPABASE_SERVICE_ROLE_KEY: "k", SUPABASE_JWT_SECRET: LOCAL_JWT_SECRET }),
    /Missing environment variable SUPABASE_URL/,
  );
});
