import assert from "node:assert/strict";
import {
  changeFingerprint,
  isFurnitureChange,
  nonSpaceLength,
  sha256Hex,
  stubReason,
} from "../../../shared/pipeline/detect.ts";
import { diffTexts } from "../../../shared/pipeline/text_diff.ts";
import { seeded } from "../../fixtures/bench_page.ts";

const OPTIONS = { contextLines: 1, maxChars: 100_000, timeoutMs: 1_000 };

Deno.test("sha256Hex() hashes UTF-8 text to lowercase hex", async () => {
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.match(await sha256Hex("£719"), /^[0-9a-f]{64}$/);
});

Deno.test("diffTexts() produces a unified diff of the changed lines with context", () => {
  const change = diffTexts("a\nb\nc\nd\ne", "a\nb\nC\nd\ne", {
    ...OPTIONS,
    newHeader: "2026-11-28T02:00:00.000Z",
  });
  assert.equal(
    change.diff,
    "--- previous\n+++ current\t2026-11-28T02:00:00.000Z\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n",
  );
  assert.deepEqual(change.summary, {
    lines_added: 1,
    lines_removed: 1,
    first_changed_lines: ["-c", "+C"],
  });
  assert.equal(change.truncated, false);
  assert.equal(change.coarse, false);
});

Deno.test("diffTexts() summarises at most five changed lines, each shortened", () => {
  const old = Array.from({ length: 10 }, (_, i) => `line ${i}`).join("\n");
  const next = Array.from({ length: 10 }, (_, i) => `LINE ${i} ${"x".repeat(300)}`).join("\n");
  const { summary } = diffTexts(old, next, OPTIONS);
  assert.equal(summary.lines_added, 10);
  assert.equal(summary.lines_removed, 10);
  assert.equal(summary.first_changed_lines.length, 5);
  assert.ok(summary.first_changed_lines.every((line) => line.length <= 200));
});

Deno.test("diffTexts() cuts a long diff at a line end and says so", () => {
  const old = Array.from({ length: 2_000 }, (_, i) => `old ${i}`).join("\n");
  const next = Array.from({ length: 2_000 }, (_, i) => `new ${i}`).join("\n");
  const change = diffTexts(old, next, { ...OPTIONS, maxChars: 1_000 });
  assert.equal(change.truncated, true);
  assert.ok(change.diff.length < 1_100);
  assert.match(change.diff, /\n\.\.\. diff truncated: \d+ more characters\n$/);
  assert.equal(change.summary.lines_added, 2_000);
});

Deno.test("diffTexts() shows a wholesale replacement when the line diff runs out of time", () => {
  const lines = (seed: string) =>
    Array.from({ length: 6_000 }, (_, i) => `${seed} ${(i * 7919) % 6_007}`).join("\n");
  const change = diffTexts(lines("a"), lines("b"), { ...OPTIONS, timeoutMs: 1 });
  assert.equal(change.coarse, true);
  assert.equal(change.summary.lines_removed, 6_000);
  assert.equal(change.summary.lines_added, 6_000);
  assert.match(change.diff, /^@@ -1,6000 \+1,6000 @@$/m);
});

Deno.test("diffTexts() diffs against an empty previous text", () => {
  const change = diffTexts("", "new rule", OPTIONS);
  assert.deepEqual(change.summary, {
    lines_added: 1,
    lines_removed: 0,
    first_changed_lines: ["+new rule"],
  });
});

Deno.test("changeFingerprint() ignores layout, relative times and copyright years, not words", () => {
  const same: Array<[string, string]> = [
    ["# Terms of Use\n\nWe may", "Terms of Use\nWe may"],
    [" 1. First\n 2. Second", " * First\n * Second"],
    ["a | b", "a\nb"],
    ["Updated yesterday", "Updated this week"],
    ["Updated over a week ago", "Updated 3 weeks ago"],
    ["Mis à jour il y a 2 jours", "Mis à jour hier"],
    ["Meta © 2025", "Meta © 2026"],
    ["Copyright 2019-2024 Acme", "Copyright 2019-2025 Acme"],
    [
      "Changelog\n###### 29 avr. 2022\n###### 5 mai 2021",
      "Changelog\n###### 28 avr. 2022\n###### 4 mai 2021",
    ],
    ["Versions\nJanuary 5, 2021\n2020-12-01", "Versions\nJanuary 4, 2021\n2020-11-30"],
  ];
  for (const [a, b] of same) {
    assert.equal(changeFingerprint(a), changeFingerprint(b), `${a} / ${b}`);
  }
  const different: Array<[string, string]> = [
    ["Last updated: January 25, 2022", "Last updated: July 19, 2022"],
    ["We keep data for 30 days", "We keep data for 60 days"],
    ["contact aup-exceptions@meta.com", "contact aupexceptions@meta.com"],
    ["Effective 2025", "Effective 2026"],
  ];
  for (const [a, b] of different) {
    assert.notEqual(changeFingerprint(a), changeFingerprint(b), `${a} / ${b}`);
  }
});

Deno.test("changeFingerprint() finds every form of relative time in any letter case", () => {
  // One example of each word the rule's pre-check looks for, in upper, title and lower case.
  const forms = [
    "3 days ago",
    "just now",
    "today",
    "yesterday",
    "this week",
    "this month",
    "this year",
    "last week",
    "last month",
    "last year",
    "aujourd'hui",
    "hier",
    "cette semaine",
    "cette année",
    "ce mois-ci",
    "il y a 2 jours",
  ];
  const cases = [
    (s: string) => s,
    (s: string) => s.toUpperCase(),
    (s: string) => s.replace(/\b\p{L}/gu, (c) => c.toUpperCase()),
  ];
  for (const form of forms) {
    for (const cased of cases) {
      const text = `Policy text. Updated ${cased(form)}. More words.`;
      assert.equal(
        changeFingerprint(text),
        "Policy text. Updated \u2039time\u203a. More words.",
        text,
      );
    }
  }
  assert.equal(changeFingerprint("Agone days"), "Agone days"); // a pre-check hit, no match
});

Deno.test("stubReason() refuses a text under a fifth of a long predecessor, not a short one", () => {
  const policy = "We collect your data to run the service. ".repeat(60);
  assert.match(stubReason(policy, "Too many requests") ?? "", /shrank from \d+ to 15 characters/);
  assert.equal(stubReason(policy, policy.slice(0, policy.length / 2)), null);
  assert.equal(stubReason("Short page.", "Gone"), null);
  // Just under and at a fifth of the predecessor's length without spaces (its length counts
  // first, then the words): the boundary is the same with the count that stops early.
  const fifth = Math.ceil(policy.replace(/\s+/g, "").length / 5);
  assert.match(stubReason(policy, "x".repeat(fifth - 1)) ?? "", /shrank/);
  assert.equal(stubReason(policy, "x".repeat(fifth)), null);
  assert.equal(stubReason(policy, " y".repeat(fifth)), null);
});

Deno.test("nonSpaceLength() with enough stops at it and never says less than the text has up to there", () => {
  assert.equal(nonSpaceLength("a b c d", 2), 2);
  assert.equal(nonSpaceLength("a b c d", 4), 4);
  assert.equal(nonSpaceLength("a b c d", 5), 4, "fewer: the whole count");
  assert.equal(nonSpaceLength("a b c d", 0.5), 1);
  assert.equal(nonSpaceLength("   ", 1), 0);
  const random = seeded(11);
  for (let k = 0; k < 200; k++) {
    const text = Array.from({ length: 50 }, () => (random() < 0.4 ? " \u00a0\n"[k % 3] : "w")).join(
      "",
    );
    const whole = nonSpaceLength(text);
    const enough = Math.floor(random() * 60);
    const got = nonSpaceLength(text, enough);
    assert.equal(got >= enough, whole >= enough, `${k}: ${got} vs ${whole}, enough ${enough}`);
    assert.ok(got <= whole);
  }
});

Deno.test("nonSpaceLength() counts what a \\s replace leaves, for every UTF-16 code unit", () => {
  for (let c = 0; c <= 0xffff; c++) {
    const text = `a${String.fromCharCode(c)}b`;
    assert.equal(nonSpaceLength(text), text.replace(/\s+/g, "").length, `U+${c.toString(16)}`);
  }
  const random = seeded(7);
  const pieces = [
    " ",
    "\n",
    "\t",
    "\u00a0",
    "\u2009",
    "\u3000",
    "\ufeff",
    "x",
    "£",
    "é",
    "\u{1f600}",
    "ab",
  ];
  for (let k = 0; k < 200; k++) {
    const text = Array.from({ length: 50 }, () => pieces[Math.floor(random() * pieces.length)])
      .join("");
    assert.equal(nonSpaceLength(text), text.replace(/\s+/g, "").length, JSON.stringify(text));
  }
});

Deno.test("isFurnitureChange() takes a line that keeps flipping for furniture, not one change undone", () => {
  const a = "Policy text\nBanner A";
  const b = "Policy text\nBanner B";
  // Newest first: the previous snapshot, then older ones.
  assert.equal(isFurnitureChange(a, b, [a]), false); // one snapshot: no history yet
  assert.equal(isFurnitureChange(a, b, [a, b]), false); // B back once: a change undone (a revert)
  assert.equal(isFurnitureChange(a, b, [a, b, a]), true); // B comes for the second time, A goes again
  assert.equal(isFurnitureChange(a, "Policy text\nBanner C", [a, b, a, b]), false); // new wording
  const removal = "Policy text";
  assert.equal(isFurnitureChange(a, removal, [a, a, a]), false); // a line always there is removed
  assert.equal(isFurnitureChange(a, removal, [a, removal]), false); // it came once: removed again
  assert.equal(isFurnitureChange(a, removal, [a, removal, a]), true); // it comes and goes
});

Deno.test("isFurnitureChange() ignores a label repeated on both sides losing or gaining a copy", () => {
  const steps = (n: number) =>
    ["Our rules"].concat(Array.from({ length: n }, (_, i) => `Step ${i}\nNext`)).join("\n");
  // "Next" under each step; one step loses its button (no history needed).
  const before = steps(4);
  const after = before.replace(/Step 3\nNext$/, "Step 3");
  assert.equal(isFurnitureChange(before, after, [before]), true);
  // A line that was there once and is now there twice is a change ("Email" shared as well).
  const collected = "Data we collect\nEmail\nData we share\nName";
  assert.equal(
    isFurnitureChange(collected, `${collected}\nEmail`, [collected]),
    false,
  );
  // A long repeated line is wording, not a label.
  const long = "You may ask us to delete your data at any time";
  assert.equal(
    isFurnitureChange(`${long}\n${long}\n${long}`, `${long}\n${long}`, [
      `${long}\n${long}\n${long}`,
    ]),
    false,
  );
});
