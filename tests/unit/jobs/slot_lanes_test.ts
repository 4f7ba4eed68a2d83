import assert from "node:assert/strict";
import { slotLanes } from "../../../shared/jobs/slot_lanes.ts";

/** A piece of work that records when it ran and ends when told. */
function gatedWork(log: string[], name: string) {
  let end = () => {};
  const ended = new Promise<void>((r) => (end = r));
  return {
    end,
    work: async () => {
      log.push(`start ${name}`);
      await ended;
      log.push(`end ${name}`);
      return name;
    },
  };
}

Deno.test("slotLanes() runs a slot's items one after the other and other slots at once", async () => {
  const lanes = slotLanes();
  const log: string[] = [];
  const a1 = gatedWork(log, "a1"), a2 = gatedWork(log, "a2"), b1 = gatedWork(log, "b1");
  const p = [
    lanes.run({ host: "h.example", slot: 1 }, a1.work),
    lanes.run({ host: "h.example", slot: 1 }, a2.work),
    lanes.run({ host: "h.example", slot: 2 }, b1.work),
  ];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log, ["start a1", "start b1"], "a2 waits for a1; slot 2 does not");
  assert.equal(lanes.busy, 2);
  a1.end();
  await p[0];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log, ["start a1", "start b1", "end a1", "start a2"]);
  a2.end();
  b1.end();
  assert.deepEqual(await Promise.all(p), ["a1", "a2", "b1"]);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(lanes.busy, 0, "idle lanes are forgotten");
});

Deno.test("slotLanes() goes on after a failed item and runs slot-less items at once", async () => {
  const lanes = slotLanes();
  const failed = lanes.run({ host: "h", slot: 1 }, () => Promise.reject(new Error("boom")));
  const next = lanes.run({ host: "h", slot: 1 }, () => Promise.resolve("next"));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, "next");
  const log: string[] = [];
  const x = gatedWork(log, "x"), y = gatedWork(log, "y");
  const both = [lanes.run({ slot: null }, x.work), lanes.run({}, y.work)];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log, ["start x", "start y"]);
  x.end();
  y.end();
  await Promise.all(both);
});

Deno.test("slotLanes().slow() runs the host's queued items one at a time, spaced, in every slot", async () => {
  const lanes = slotLanes();
  lanes.slow("https://h.example/page?x=1", 60); // first start 60 + 60 ms from now, then 60 apart
  const t0 = performance.now();
  const starts: Array<[string, number]> = [];
  const work = (name: string) => () => {
    starts.push([name, performance.now() - t0]);
    return Promise.resolve();
  };
  await Promise.all([
    lanes.run({ host: "h.example", slot: 1 }, work("h1")),
    lanes.run({ host: "h.example", slot: 2 }, work("h2")),
    lanes.run({ host: "other.example", slot: 1 }, work("other")),
  ]);
  assert.deepEqual(starts.map(([n]) => n), ["other", "h1", "h2"], "another host is not slowed");
  const [, h1] = starts[1]!, [, h2] = starts[2]!;
  // Lower bounds only: the waits are timers, which never end early.
  assert.ok(h1 >= 119, `first start of the slowed host at ${h1} ms`);
  assert.ok(h2 - h1 >= 59, `then spaced: ${h2 - h1} ms`);
  lanes.slow("not a url", 1000); // ignored
});

Deno.test("slotLanes() asks before a queued item starts, never before a slot's first one", async () => {
  const asked: string[] = [];
  const log: string[] = [];
  let answer = 0;
  const lanes = slotLanes({
    beforeQueued: (host) => {
      asked.push(host);
      log.push(`asked ${host}`);
      return Promise.resolve(answer);
    },
  });
  const a1 = gatedWork(log, "a1"), a2 = gatedWork(log, "a2"), b1 = gatedWork(log, "b1");
  const p = [
    lanes.run({ host: "h.example", slot: 1 }, a1.work),
    lanes.run({ host: "h.example", slot: 1 }, a2.work),
    lanes.run({ host: "h.example", slot: 2 }, b1.work),
  ];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, [], "the first item of each slot starts without asking");
  answer = 50; // the host was slowed meanwhile: wait 50 ms
  a1.end();
  await p[0];
  const ended = performance.now();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(log, ["start a1", "start b1", "end a1", "asked h.example"]);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(log.slice(4), ["start a2"], "a2 starts after the wait it was given");
  assert.ok(performance.now() - ended >= 49, "lower bound: a timer never ends early");
  a2.end();
  b1.end();
  assert.deepEqual(await Promise.all(p), ["a1", "a2", "b1"]);
  assert.deepEqual(asked, ["h.example"]);
});

Deno.test("slotLanes() starts a queued item without asking while its invocation holds every slot of the host since its claim", async () => {
  const asked: string[] = [];
  const log: string[] = [];
  const lanes = slotLanes({
    perHost: 2,
    beforeQueued: (host) => {
      asked.push(host);
      log.push(`asked ${host}`);
      return Promise.resolve(0);
    },
  });
  const h = (slot: number) => ({ host: "h.example", slot });
  // One claim took both slots of h, two items each.
  const [a1, a2, b1, b2] = [h(1), h(1), h(2), h(2)];
  lanes.hold([a1, a2, b1, b2]);
  const w = Object.fromEntries(["a1", "a2", "b1", "b2"].map((n) => [n, gatedWork(log, n)]));
  const p = [
    lanes.run(a1, w.a1!.work),
    lanes.run(a2, w.a2!.work),
    lanes.run(b1, w.b1!.work),
    lanes.run(b2, w.b2!.work),
  ];
  w.a1!.end();
  await p[0];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, [], "a2 starts at once: no other invocation could reach h meanwhile");
  assert.ok(log.includes("start a2"));
  lanes.release(a1); // slot 1 still holds a2
  w.a2!.end();
  await p[1];
  lanes.release(a2); // slot 1 is free: another invocation may take it and hear a 429
  w.b1!.end();
  await p[2];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, ["h.example"], "b2 asks: its host was not all ours since its claim");
  w.b2!.end();
  await p[3];
});

Deno.test("slotLanes() asks for the queued items of a claim that did not take every slot, and without perHost", async () => {
  for (const perHost of [2, undefined]) {
    const asked: string[] = [];
    const lanes = slotLanes({
      perHost,
      beforeQueued: (host) => {
        asked.push(host);
        return Promise.resolve(0);
      },
    });
    // Two items in slot 1: with perHost 2 the claim left slot 2 to others.
    const items = [{ host: "h.example", slot: 1 }, { host: "h.example", slot: 1 }];
    lanes.hold(items);
    await Promise.all(items.map((item) => lanes.run(item, () => Promise.resolve())));
    assert.deepEqual(asked, ["h.example"], `perHost ${perHost}`);
  }
});

Deno.test("slotLanes() asks for every start of a host it slowed, once the database knows of it", async () => {
  const asked: string[] = [];
  const lanes = slotLanes({
    perHost: 1,
    beforeQueued: (host) => {
      asked.push(host);
      return Promise.resolve(0);
    },
  });
  const items = [{ host: "h.example", slot: 1 }, { host: "h.example", slot: 1 }];
  lanes.hold(items); // every slot ours: unslowed, the second would not ask
  const reported = Promise.withResolvers<void>();
  lanes.slow("https://h.example/x", 0, reported.promise);
  const started: number[] = [];
  const runs = items.map((item, i) => lanes.run(item, () => Promise.resolve(started.push(i))));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual([asked, started], [[], []], "nothing starts before job_slow_host is written");
  reported.resolve();
  await Promise.all(runs);
  assert.deepEqual([asked, started], [["h.example", "h.example"], [0, 1]]);
});

Deno.test("slotLanes() stops asking for the items it held before, once a claim gives it every slot of the host", async () => {
  const asked: string[] = [];
  const lanes = slotLanes({
    perHost: 2,
    beforeQueued: (host) => {
      asked.push(host);
      return Promise.resolve(0);
    },
  });
  const log: string[] = [];
  // A first claim took slot 1 only (another invocation held slot 2): two items queued there.
  const [a1, a2] = [{ host: "h.example", slot: 1 }, { host: "h.example", slot: 1 }];
  lanes.hold([a1, a2]);
  const w1 = gatedWork(log, "a1"), w2 = gatedWork(log, "a2");
  const p = [lanes.run(a1, w1.work), lanes.run(a2, w2.work)];
  // Then slot 2 came free and the next claim took it: h is all ours from now on.
  const b1 = { host: "h.example", slot: 2 };
  lanes.hold([b1]);
  w1.end();
  await p[0];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, [], "a2, claimed while slot 2 was another's, starts without asking");
  assert.ok(log.includes("start a2"));
  w2.end();
  await p[1];
  await lanes.run(b1, () => Promise.resolve());
});

Deno.test("slotLanes() ends an exchange that heard a slow-down only once the database knows of it", async () => {
  const lanes = slotLanes({ perHost: 1, beforeQueued: () => Promise.resolve(0) });
  const item = { host: "h.example", slot: 1 };
  lanes.hold([item]);
  const reported = Promise.withResolvers<void>();
  let done = false;
  // The exchange itself gets the 429 (the throttle listener slows the host meanwhile).
  const run = lanes.run(item, () => {
    lanes.slow("https://h.example/x", 0, reported.promise);
    return Promise.resolve("429");
  }).then((r) => {
    done = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(done, false, "the item (and its completion, which frees the slot) waits");
  reported.resolve();
  assert.equal(await run, "429");
});

Deno.test("slotLanes() frees a slot at its item's last request once the invocation claims no more, if nothing of its own follows there", async () => {
  const freed: string[] = [];
  const asked: string[] = [];
  let closing = false;
  const lanes = slotLanes({
    perHost: 2,
    beforeQueued: (host) => {
      asked.push(host);
      return Promise.resolve(0);
    },
    closing: () => closing,
    mayFree: (item) => item.report_at_once === true,
    freeSlot: (item) => freed.push(item.fetch_id!),
  });
  const item = (slot: number, id: string) => ({
    host: "h.example",
    slot,
    fetch_id: id,
    report_at_once: true,
  });
  const [a1, a2, b1, b2] = [item(1, "a1"), item(1, "a2"), item(2, "b1"), item(2, "b2")];
  lanes.hold([a1, a2, b1, b2]); // every slot ours
  await lanes.run(a1, () => Promise.resolve(), true);
  assert.deepEqual(freed, [], "still claiming: its own next claim refills the slot");
  closing = true;
  const next = lanes.run(b1, () => Promise.resolve(), true);
  const queued = lanes.run(b2, () => Promise.resolve(), true); // b2 follows b1 in slot 2
  await next;
  assert.deepEqual(freed, [], "b2 follows b1 in its slot: not freed");
  await queued;
  assert.deepEqual(freed, ["b2"], "the last item of slot 2 frees it");
  assert.deepEqual(asked, [], "b2 did not ask: the host was all ours until b2 freed its slot");
  await assert.rejects(
    lanes.run(b2, () => Promise.resolve("again")),
    /Cannot make another request/,
    "a freed item makes no request any more",
  );
  await lanes.run(a2, () => Promise.resolve(), false);
  assert.deepEqual(freed, ["b2"], "not its last request: not freed");
  const c = { ...item(1, "c"), report_at_once: false };
  lanes.hold([c]);
  await lanes.run(c, () => Promise.resolve(), true);
  assert.deepEqual(freed, ["b2"], "nobody waits for its host: not freed");
});

Deno.test("slotLanes() asks again for a host whose slot it freed: the host is not all its own any more", async () => {
  const asked: string[] = [];
  const lanes = slotLanes({
    perHost: 2,
    beforeQueued: (host) => {
      asked.push(host);
      return Promise.resolve(0);
    },
    closing: () => true,
    mayFree: () => true,
    freeSlot: () => {},
  });
  const [a1, b1, b2] = [{ host: "h", slot: 1 }, { host: "h", slot: 2 }, { host: "h", slot: 2 }];
  lanes.hold([a1, b1, b2]);
  let endB1 = () => {};
  const b1Done = lanes.run(b1, () => new Promise<void>((r) => (endB1 = r)), true);
  const b2Done = lanes.run(b2, () => Promise.resolve(), true);
  await lanes.run(a1, () => Promise.resolve(), true); // frees slot 1: another may take it
  endB1();
  await Promise.all([b1Done, b2Done]);
  assert.deepEqual(asked, ["h"], "b2 asks before it starts");
});
