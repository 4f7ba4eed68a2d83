import assert from "node:assert/strict";
import {
  type DueCandidate,
  type DueOptions,
  isDue,
  splitDueSources,
} from "../../../shared/jobs/due_sources.ts";

const NOW = new Date("2026-11-28T02:00:00.000Z");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TOLERANCE = 5 * MINUTE;

/** The intervals the core migration seeds (tests/integration/jobs/job_store_test.ts reads them). */
const DEFAULT_FREQUENCIES: ReadonlyMap<string, number> = new Map([
  ["hourly", HOUR],
  ["daily", DAY],
  ["weekly", 7 * DAY],
]);

function options(overrides: Partial<DueOptions> = {}): DueOptions {
  return { now: NOW, intervals: DEFAULT_FREQUENCIES, toleranceMs: TOLERANCE, ...overrides };
}

/** A source of `frequency` last checked `agoMs` before NOW (never, when null). */
function source(frequency: string, agoMs: number | null, id = "src-1"): DueCandidate {
  return {
    id,
    name: `Source ${id}`,
    check_frequency: frequency,
    last_checked_at: agoMs === null ? null : new Date(NOW.getTime() - agoMs).toISOString(),
  };
}

Deno.test("isDue() treats a source never checked as due", () => {
  for (const frequency of ["hourly", "daily", "weekly"]) {
    assert.equal(isDue(source(frequency, null), options()), true, frequency);
  }
});

Deno.test("isDue() makes an hourly source due within the tolerance of its hour", async (t) => {
  await t.step("checked 59 minutes ago it is due (1 minute early, within 5)", () => {
    assert.equal(isDue(source("hourly", 59 * MINUTE), options()), true);
  });
  await t.step("checked exactly 55 minutes ago it is due (the tolerance is inclusive)", () => {
    assert.equal(isDue(source("hourly", 55 * MINUTE), options()), true);
  });
  await t.step("checked 50 minutes ago it is not due (10 minutes early)", () => {
    assert.equal(isDue(source("hourly", 50 * MINUTE), options()), false);
  });
  await t.step("checked 3 hours ago it is due", () => {
    assert.equal(isDue(source("hourly", 3 * HOUR), options()), true);
  });
});

Deno.test("isDue() makes a daily source checked just after 02:00 yesterday due at 02:00", async (t) => {
  await t.step(
    "checked yesterday at 02:00:05, it is due at 02:00:00 thanks to the tolerance",
    () => {
      const daily: DueCandidate = {
        ...source("daily", null),
        last_checked_at: "2026-11-27T02:00:05.000Z",
      };
      assert.equal(isDue(daily, options()), true);
      assert.equal(isDue(daily, options({ toleranceMs: 0 })), false);
    },
  );
  await t.step("checked 3 hours ago it is not due", () => {
    assert.equal(isDue(source("daily", 3 * HOUR), options()), false);
  });
  await t.step("checked 25 hours ago it is due", () => {
    assert.equal(isDue(source("daily", 25 * HOUR), options()), true);
  });
});

Deno.test("isDue() makes a weekly source due after seven days", async (t) => {
  await t.step("checked 6 days ago it is not due", () => {
    assert.equal(isDue(source("weekly", 6 * DAY), options()), false);
  });
  await t.step("checked 7 days minus 2 minutes ago it is due (within the tolerance)", () => {
    assert.equal(isDue(source("weekly", 7 * DAY - 2 * MINUTE), options()), true);
  });
  await t.step("checked 8 days ago it is due", () => {
    assert.equal(isDue(source("weekly", 8 * DAY), options()), true);
  });
});

Deno.test("isDue() makes every source due when forced", () => {
  assert.equal(isDue(source("hourly", MINUTE), options({ force: true })), true);
  assert.equal(isDue(source("weekly", HOUR), options({ force: true })), true);
  assert.equal(isDue(source("fortnightly", HOUR), options({ force: true })), true);
});

Deno.test("isDue() never makes a checked source of an unknown frequency due", () => {
  assert.equal(isDue(source("fortnightly", 365 * DAY), options()), false);
});

Deno.test("isDue() treats an unreadable last_checked_at as never checked", () => {
  const garbled: DueCandidate = { ...source("daily", null), last_checked_at: "yesterday-ish" };
  assert.equal(isDue(garbled, options()), true);
});

Deno.test("isDue() honours a frequency added to the intervals with no code change", () => {
  const intervals = new Map([...DEFAULT_FREQUENCIES, ["every_15_minutes", 15 * MINUTE]]);
  const quarterly = (ago: number) => source("every_15_minutes", ago);
  assert.equal(isDue(quarterly(16 * MINUTE), options({ intervals })), true);
  assert.equal(isDue(quarterly(11 * MINUTE), options({ intervals })), true);
  assert.equal(isDue(quarterly(5 * MINUTE), options({ intervals })), false);
  assert.equal(isDue(quarterly(16 * MINUTE), options()), false, "unknown without the row");
});

Deno.test("splitDueSources() keeps the order and says why and until when each source waits", () => {
  const sources = [
    source("hourly", 10 * MINUTE, "src-a"),
    source("daily", null, "src-b"),
    source("daily", 3 * HOUR, "src-c"),
    source("fortnightly", DAY, "src-d"),
    source("weekly", 8 * DAY, "src-e"),
  ];
  const { due, skipped } = splitDueSources(sources, options());
  assert.deepEqual(due.map((s) => s.id), ["src-b", "src-e"]);
  assert.deepEqual(
    skipped.map((s) => ({ id: s.source.id, reason: s.reason, next_due_at: s.next_due_at })),
    [
      { id: "src-a", reason: "not_due", next_due_at: "2026-11-28T02:50:00.000Z" },
      { id: "src-c", reason: "not_due", next_due_at: "2026-11-28T23:00:00.000Z" },
      { id: "src-d", reason: "unknown_frequency", next_due_at: null },
    ],
  );
});

Deno.test("splitDueSources() puts every source in due when forced", () => {
  const sources = [source("hourly", MINUTE, "src-a"), source("weekly", DAY, "src-b")];
  const { due, skipped } = splitDueSources(sources, options({ force: true }));
  assert.deepEqual(due.map((s) => s.id), ["src-a", "src-b"]);
  assert.deepEqual(skipped, []);
});
