import assert from "node:assert/strict";
import { DbError, type PostgrestFailure } from "../../../shared/store/client.ts";

Deno.test("DbError says what failed, then PostgREST's message and code", () => {
  const error = new DbError("Cannot save source", {
    message: 'new row violates check constraint "sources_name_check"',
    code: "23514",
  });
  assert.equal(
    error.message,
    'Cannot save source: new row violates check constraint "sources_name_check" (23514)',
  );
  assert.equal(error.code, "23514");
  assert.equal(error.constraint, "sources_name_check");
  assert.equal(new DbError("Cannot read run", null).message, "Cannot read run: no data");
});

Deno.test("DbError keeps an answer that is not PostgREST's instead of saying no data", () => {
  // What supabase-js returns when the gateway answers 502 with its own error body.
  const gateway = {
    error: { code: "bad_gateway", message: "Upstream service unavailable" },
  } as unknown as PostgrestFailure;
  const error = new DbError("Cannot record snapshot of source s", gateway);
  assert.equal(
    error.message,
    'Cannot record snapshot of source s: not a PostgREST error: {"error":{"code":"bad_gateway","message":"Upstream service unavailable"}}',
  );
  assert.equal(error.code, null);
  assert.equal(error.constraint, null);
});
