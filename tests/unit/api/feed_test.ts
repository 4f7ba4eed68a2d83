import assert from "node:assert/strict";
import { atomOf, FEED_TOKEN_PREFIX, newFeedToken } from "../../../functions/api/routes/feeds.ts";

const change = (diff: string) => ({
  id: "3f2a9c1e-0b7d-4c6a-9e58-1d2c3b4a5f60",
  source_id: "7d0c3a58-2f39-4a8e-9a57-2f2a8c1e0b11",
  source_name: "Visa <rules> & fees",
  source_url: "https://example.org/visa",
  detected_at: "2026-12-01T02:00:00.000Z",
  summary: { lines_added: 1, lines_removed: 1, first_changed_lines: [] },
  diff,
});

Deno.test("atomOf() writes one escaped entry per change", async () => {
  const xml = await atomOf([change("-a\n+]]><script>alert(1)</script>")], {
    base: "https://ref.supabase.co",
    now: new Date("2026-12-01T03:00:00Z"),
  });
  assert.match(
    xml,
    /^<\?xml version="1.0" encoding="utf-8"\?>\s*<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/,
  );
  assert.match(xml, /<id>urn:uuid:3f2a9c1e-0b7d-4c6a-9e58-1d2c3b4a5f60<\/id>/);
  assert.match(xml, /<updated>2026-12-01T02:00:00.000Z<\/updated>/);
  // The diff cannot end the CDATA section nor inject markup into the entry's HTML.
  const content = /<content type="html"><!\[CDATA\[([\s\S]*?)\]\]><\/content>/.exec(xml)?.[1];
  assert.ok(content);
  assert.doesNotMatch(content, /<script>|\]\]>/);
  assert.match(content, /\]\]&gt;&lt;script&gt;/);
  assert.match(content, /Visa &lt;rules&gt; &amp; fees/);
});

Deno.test("atomOf() of no change is a valid empty feed", async () => {
  const xml = await atomOf([], {
    base: "http://127.0.0.1:54321",
    now: new Date("2026-12-01T03:00:00Z"),
  });
  assert.match(xml, /<updated>2026-12-01T03:00:00.000Z<\/updated>/);
  assert.doesNotMatch(xml, /<entry>/);
});

Deno.test("newFeedToken() is prefixed, random and URL-safe", () => {
  const a = newFeedToken();
  const b = newFeedToken();
  assert.notEqual(a, b);
  assert.ok(a.startsWith(FEED_TOKEN_PREFIX));
  assert.match(a, /^pcmf_[A-Za-z0-9_-]{43}$/);
});
