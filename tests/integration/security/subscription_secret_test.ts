/**
 * Subscription secrets never leave the database except as a signature: no API role can
 * read `subscriptions.secret` through PostgREST (not with `*`, a filter, an order, an
 * embedding), while inserting and rotating secrets and signing with them still work.
 */
import assert from "node:assert/strict";
import { hmacSha256Hex } from "../../../shared/alerts/signature.ts";
import { createSupabaseAlertStore } from "../../../shared/store/alert_store.ts";
import { anonDb, serviceDb, stackKeys, SUPABASE_URL } from "../_stack.ts";

const REST = `${SUPABASE_URL}/rest/v1`;

/** A GET on PostgREST with `key`; the raw status and text. */
async function rest(key: string, pathAndQuery: string, accept = "application/json") {
  const res = await fetch(`${REST}${pathAndQuery}`, {
    headers: { apikey: key, authorization: `Bearer ${key}`, accept },
  });
  return { status: res.status, text: await res.text() };
}

Deno.test("subscription secrets cannot be read through the API, yet signing works", async (t) => {
  const db = await serviceDb();
  const keys = await stackKeys();
  const secret = `secret-test-${crypto.randomUUID()}`;
  const target = `https://example.org/secret-test/${crypto.randomUUID()}`;
  const { data: created, error: insertError } = await db.from("subscriptions")
    .insert({ channel: "webhook", target, secret, active: false })
    .select("id, target, active").single();
  assert.equal(insertError, null, insertError?.message);
  const id = created!.id as string;

  try {
    await t.step("the service role inserts a secret and reads the other columns back", () => {
      assert.deepEqual(created, { id, target, active: false });
    });

    await t.step(
      "service-role supabase-js select('*') fails with 42501, never returns the secret",
      async () => {
        const res = await db.from("subscriptions").select("*").eq("id", id);
        assert.equal(res.data, null);
        assert.equal(res.error?.code, "42501");
        assert.ok(!JSON.stringify(res).includes(secret));
      },
    );

    await t.step("service-role select('id, secret') fails with 42501", async () => {
      const res = await db.from("subscriptions").select("id, secret").eq("id", id);
      assert.equal(res.error?.code, "42501");
      assert.ok(!JSON.stringify(res).includes(secret));
    });

    await t.step(
      "insert(...).select() (all columns) fails rather than return the secret",
      async () => {
        const res = await db.from("subscriptions")
          .insert({ channel: "webhook", target: `${target}/2`, secret: `${secret}-2` })
          .select();
        assert.equal(res.error?.code, "42501");
        assert.ok(!JSON.stringify(res).includes(secret));
        // The statement failed as a whole: nothing was inserted.
        const { count } = await db.from("subscriptions").select("id", {
          count: "exact",
          head: true,
        })
          .eq("target", `${target}/2`);
        assert.equal(count, 0);
      },
    );

    const oracles: Array<[string, string, string?]> = [
      ["select=*", `/subscriptions?select=*&id=eq.${id}`],
      ["an aliased column", `/subscriptions?select=id,s:secret&id=eq.${id}`],
      [
        "a filter on the secret (a guessing oracle)",
        `/subscriptions?select=id&secret=like.secret-test*`,
      ],
      ["an order by the secret (a sorting oracle)", `/subscriptions?select=id&order=secret.asc`],
      ["an embedding from sources", `/sources?select=id,subscriptions(secret)`],
      ["a CSV export", `/subscriptions?select=*&id=eq.${id}`, "text/csv"],
    ];
    for (const [name, path, accept] of oracles) {
      await t.step(
        `PostgREST refuses ${name}: 42501 for the service role, nothing for anon`,
        async () => {
          const service = await rest(keys.serviceRoleKey, path, accept);
          assert.equal(service.status, 403, service.text); // PostgREST answers 42501 so
          assert.match(service.text, /"42501"/, service.text);
          assert.ok(!service.text.includes(secret));
          // anon gets the same error, or an empty list where RLS leaves no row to read from
          // (Postgres proves the query empty before it needs the column).
          const anon = await rest(keys.anonKey, path, accept);
          assert.ok(!anon.text.includes(secret));
          assert.ok(
            /"42501"/.test(anon.text) || anon.text.trim() === "[]" || anon.text.trim() === "",
            `${anon.status} ${anon.text}`,
          );
        },
      );
    }

    await t.step("anon supabase-js select('*') fails too", async () => {
      const res = await (await anonDb()).from("subscriptions").select("*");
      assert.notEqual(res.error, null);
      assert.ok(!JSON.stringify(res).includes(secret));
    });

    await t.step("sign_alert_body (the alert store's signBody) signs with the secret", async () => {
      const body = JSON.stringify({ event: "policy_change", n: 1 });
      const signature = await createSupabaseAlertStore(db).signBody(id, body);
      assert.equal(signature, await hmacSha256Hex(secret, body));
    });

    await t.step("anon cannot call sign_alert_body", async () => {
      const res = await (await anonDb()).rpc("sign_alert_body", {
        p_subscription_id: id,
        p_body: "x",
      });
      assert.equal(res.data, null);
      assert.equal(res.error?.code, "42501");
    });

    await t.step("the service role rotates the secret and signatures follow", async () => {
      const rotated = `${secret}-rotated`;
      const { error } = await db.from("subscriptions").update({ secret: rotated }).eq("id", id);
      assert.equal(error, null, error?.message);
      const body = "rotated body";
      assert.equal(
        await createSupabaseAlertStore(db).signBody(id, body),
        await hmacSha256Hex(rotated, body),
      );
    });
  } finally {
    await db.from("subscriptions").delete().like("target", `${target}%`);
  }
});
