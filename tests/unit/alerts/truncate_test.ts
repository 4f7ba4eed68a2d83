import assert from "node:assert/strict";
import { measureText, truncateText } from "../../../shared/alerts/truncate.ts";

const MARKER = "\n… (truncated)";

/** True when `text` survives a UTF-8 round trip (no lone surrogate). */
function isWellFormed(text: string): boolean {
  return new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(text)) ===
    text;
}

function graphemes(text: string): string[] {
  return Array.from(
    new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text),
    (s) => s.segment,
  );
}

Deno.test("truncateText() returns short text unchanged", () => {
  assert.deepEqual(truncateText("hello", 10), { text: "hello", truncated: false });
  assert.deepEqual(truncateText("héllo", 6, { measure: "utf8" }), {
    text: "héllo",
    truncated: false,
  });
});

Deno.test("truncateText() fits the text and the marker within the limit", () => {
  const result = truncateText("a".repeat(5000), 3000);
  assert.equal(result.truncated, true);
  assert.equal(result.text.length, 3000);
  assert.ok(result.text.endsWith(MARKER));
});

Deno.test("truncateText() never splits a surrogate pair when an emoji straddles the cut", () => {
  const budget = 100 - MARKER.length;
  for (let offset = 0; offset < 4; offset++) {
    const text = "a".repeat(budget - offset) + "😀".repeat(50);
    const { text: out } = truncateText(text, 100);
    assert.ok(out.length <= 100);
    assert.ok(isWellFormed(out), `offset ${offset}`);
  }
});

Deno.test("truncateText() keeps emoji sequences whole at the cut", async (t) => {
  const cases = {
    "a ZWJ family": "👨‍👩‍👧‍👦",
    "a skin-tone modifier": "👍🏽",
    "a flag": "🇫🇷",
    "a combining accent": "e\u0301",
    "a keycap": "#️⃣",
  };
  for (const [name, cluster] of Object.entries(cases)) {
    await t.step(name, () => {
      const text = "x".repeat(40) + cluster.repeat(60);
      for (let max = 45 + MARKER.length; max < 70 + MARKER.length; max++) {
        const { text: out } = truncateText(text, max);
        assert.ok(out.length <= max);
        const kept = out.slice(0, out.length - MARKER.length);
        const parts = graphemes(kept);
        for (const part of parts.slice(40)) assert.equal(part, cluster, `max ${max}`);
      }
    });
  }
});

Deno.test("truncateText() pairs flags correctly even far from the start of the text", () => {
  // Flags without ASCII: segmenting from a mid-flag position would mis-pair them all.
  const text = "🇩🇪🇫🇷".repeat(3000);
  for (let max = 9000; max < 9010; max++) {
    const out = truncateText(text, max).text;
    const kept = out.slice(0, out.length - MARKER.length);
    assert.equal(kept.length % 4, 0, `max ${max}: cut inside a flag`);
    assert.ok(kept.startsWith("🇩🇪🇫🇷"));
  }
});

Deno.test("truncateText() measures UTF-8 bytes without cutting a multi-byte character", () => {
  const text = "é".repeat(10) + "€".repeat(10) + "😀".repeat(10);
  for (let max = 20; max < 80; max++) {
    const out = truncateText(text, max, { measure: "utf8", marker: "…" }).text;
    assert.ok(measureText(out, "utf8") <= max, `max ${max}`);
    assert.ok(isWellFormed(out));
  }
});

Deno.test("truncateText() cuts a 200 KB diff with emoji and CJK within the limit", () => {
  const line = "+ 新しい規則 ✅ règle modifiée 👩🏽‍⚖️ limite €\n";
  const diff = line.repeat(Math.ceil(200 * 1024 / measureText(line, "utf8")));
  for (const max of [3000, 2999, 2998, 2997]) {
    const out = truncateText(diff, max, { preferLineBreak: true }).text;
    assert.ok(out.length <= max);
    assert.ok(isWellFormed(out));
    assert.ok(out.slice(0, -MARKER.length).endsWith("€"), "cut at a line break");
  }
  const bytes = truncateText(diff, 100_000, { measure: "utf8" }).text;
  assert.ok(measureText(bytes, "utf8") <= 100_000);
  assert.ok(isWellFormed(bytes));
});

Deno.test("truncateText() prefers a line break only in the last half of the kept text", () => {
  const text = "short\n" + "y".repeat(200);
  const out = truncateText(text, 100, { preferLineBreak: true }).text;
  assert.ok(out.startsWith("short\nyyy"), "no cut at an early line break");
  assert.equal(out.length, 100);
});

Deno.test("truncateText() returns a cut marker when the limit is smaller than the marker", () => {
  const out = truncateText("a".repeat(50), 5);
  assert.equal(out.truncated, true);
  assert.ok(out.text.length <= 5);
});
