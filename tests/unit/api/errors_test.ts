import assert from "node:assert/strict";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { catchNonErrors, errorHandler, validationError } from "../../../functions/api/errors.ts";
import { RunInProgressError } from "../../../shared/jobs/types.ts";
import { captureLogger } from "../../../shared/log.ts";
import { errorBody } from "./_helpers.ts";

/** An app whose only route throws `error`, with the API's error handler. */
function throwing(error: unknown) {
  const logger = captureLogger();
  const app = new Hono();
  app.onError(errorHandler(logger));
  app.use(catchNonErrors());
  app.get("/", () => {
    throw error;
  });
  return { app, logger };
}

Deno.test("errorHandler() maps each kind of error to a status and a code", async (t) => {
  const cases: Array<{ name: string; error: unknown; status: number; code: string }> = [
    {
      name: "a plain 400",
      error: new HTTPException(400, { message: "x" }),
      status: 400,
      code: "bad_request",
    },
    { name: "a 405", error: new HTTPException(405), status: 405, code: "method_not_allowed" },
    {
      name: "a run in progress without id",
      error: new RunInProgressError(null),
      status: 409,
      code: "run_in_progress",
    },
    { name: "a TypeError", error: new TypeError("x is undefined"), status: 500, code: "internal" },
    { name: "a thrown string", error: "boom", status: 500, code: "internal" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { app } = throwing(c.error);
      const res = await app.request("/");
      assert.equal(res.status, c.status);
      const error = await errorBody(res);
      assert.equal(error.code, c.code);
      assert.equal(error.run_id, undefined);
    });
  }
});

Deno.test("errorHandler() hides the message of a library's 5xx and logs it", async () => {
  const { app, logger } = throwing(
    new HTTPException(500, { message: "Cannot clone request: postgres://u:pw@db" }),
  );
  const res = await app.request("/", { headers: { Authorization: "Bearer abc.def.ghi" } });
  assert.equal(res.status, 500);
  assert.deepEqual(await errorBody(res), { code: "internal", message: "Internal error" });
  assert.equal(logger.records.length, 1);
  assert.ok(!JSON.stringify(logger.records).includes("abc.def.ghi"));
});

Deno.test("validationError() lists at most 20 field errors with clipped messages", () => {
  const schema = z.strictObject({ ids: z.array(z.string().max(1, { error: "y".repeat(500) })) });
  const parsed = schema.safeParse({ ids: Array.from({ length: 30 }, () => "long"), extra: 1 });
  assert.equal(parsed.success, false);
  const error = validationError("json", parsed.error!);
  assert.equal(error.status, 400);
  assert.equal(error.code, "bad_request");
  const details = error.extras.details ?? [];
  assert.equal(details.length, 20);
  assert.ok(details.every((d) => d.message.length <= 201));
  assert.equal(details[0]?.path, "ids.0");
  assert.match(error.message, /^Invalid request body: ids\.0: y+… \(and 30 more\)$/);
});
