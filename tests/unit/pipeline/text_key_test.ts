/**
 * The text key (shared/pipeline/text_key.ts): a check whose extracted text has the stored key
 * takes the source's last_hash without normalising, so the key must change whenever what
 * turns an extracted text into its hash changes. The golden digest below is of that whole
 * path (normaliseText with and without ignore patterns, changeFingerprint, sha256Hex) over
 * thousands of texts: when it fails, the output changed, and TEXT_KEY_VERSION must be bumped
 * with a new entry here (never the digest of an existing version replaced).
 */
import assert from "node:assert/strict";
import { changeFingerprint, sha256Hex } from "../../../shared/pipeline/detect.ts";
import { extractHtmlText } from "../../../shared/pipeline/html_extractor.ts";
import { compileIgnorePatterns, normaliseText } from "../../../shared/pipeline/normalise.ts";
import {
  parseTextKey,
  storedTextKey,
  TEXT_KEY_VERSION,
  textKey,
} from "../../../shared/pipeline/text_key.ts";
import { seeded } from "../../fixtures/pipeline_pages.ts";
import { benchSitePage, sloppyPage, SUITE_FIXTURES } from "./_html_pages.ts";

/** The digest of {@link _allHashes} each version had. */
const GOLDEN: Record<number, string> = {
  1: "f4d94ac223fdcf1fa4bab3192c16cc86377809efc0b55e06232ef5d2677569aa",
};

const PIECES = [
  // normalise.ts's rules
  "Fee",
  "£719",
  " ",
  "  ",
  "\t",
  "\n",
  "\n\n",
  "\n \n\t\n",
  "\r\n",
  "\r",
  "\u00a0",
  "\u2003",
  "\u3000",
  "\u1680",
  "\u202f",
  "\u205f",
  "\u2009",
  "\u2028",
  "\u2029",
  "\u0085",
  "\v",
  "\f",
  "\u200b",
  "\ufeff",
  "\u00ad",
  "e\u0301",
  "14:03:27",
  " UTC",
  "2026-11-28T02:00:13.123Z",
  "9:05:00 pm",
  "https://gov.example/a?b=c#d",
  "HTTP://X.EXAMPLE/P#top",
  "http://",
  "?q=1",
  "9f8a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a",
  "a1-b2_c3a1-b2_c3a1-b2_c3a1-b2_c3a1-b2_c3",
  "Page generated in 0.12 s",
  "Rendered in 12ms.",
  "0123456789abcdef0123456789abcdef",
  "Visitors: 12",
  "fee",
  // detect.ts's fingerprint
  "# ",
  "## ",
  "> ",
  "* ",
  "- ",
  "• ",
  "1. ",
  "12) ",
  "iv) ",
  "  - ",
  "29 avr. 2022",
  "March 3, 2024",
  "3 March 2024",
  "2024-03-03",
  "3/4/24",
  "---",
  "a | b",
  " | ",
  "3 days ago",
  "Yesterday",
  "THIS WEEK",
  "hier",
  "Il y a 2 jours",
  "aujourd’hui",
  "© 2024",
  "(c) 2019 - 2024",
  "Copyright 2025 Acme",
  "Policy",
  "applies.",
  "rule",
  "Ünïcode",
];
const PATTERNS = compileIgnorePatterns(["Visitors: \\d+", "/^fee$/im"]);

/** The hash of every text of the set, as the pipeline takes it. */
async function _allHashes(): Promise<string[]> {
  const random = seeded(14);
  const texts: string[] = [];
  for (let i = 0; i < 4_000; i++) {
    const n = 1 + Math.floor(random() * 40);
    texts.push(
      Array.from({ length: n }, () => PIECES[Math.floor(random() * PIECES.length)]).join(""),
    );
  }
  for (const html of Object.values(SUITE_FIXTURES)) texts.push(extractHtmlText(html));
  for (let seed = 1; seed <= 50; seed++) texts.push(extractHtmlText(sloppyPage(seed)));
  for (let i = 0; i < 20; i++) texts.push(extractHtmlText(benchSitePage(i)));
  const hashes: string[] = [];
  for (const text of texts) {
    hashes.push(await sha256Hex(changeFingerprint(normaliseText(text))));
    hashes.push(
      await sha256Hex(changeFingerprint(normaliseText(text, { ignorePatterns: PATTERNS }))),
    );
  }
  return hashes;
}

Deno.test("text_key: what turns a text into its hash is what it was at this TEXT_KEY_VERSION", async () => {
  const digest = await sha256Hex((await _allHashes()).join("\n"));
  assert.equal(
    digest,
    GOLDEN[TEXT_KEY_VERSION],
    "normalisation or the fingerprint changed their output: bump TEXT_KEY_VERSION in " +
      "shared/pipeline/text_key.ts and add its digest to GOLDEN (stored keys then miss once)",
  );
});

Deno.test("textKey() differs with the text, the ignore patterns and the hash", async () => {
  const hash = "a".repeat(64);
  const key = await textKey("Fee: £719", [], hash);
  assert.match(key, /^[0-9a-f]{16}$/);
  assert.equal(await textKey("Fee: £719", [], hash), key);
  const others = [
    await textKey("Fee: £720", [], hash),
    await textKey("Fee: £719", ["Visitors"], hash),
    await textKey("Fee: £719", [""], hash),
    await textKey("Fee: £719", [], "b".repeat(64)),
  ];
  assert.equal(new Set([key, ...others]).size, 5);
});

Deno.test("parseTextKey() reads what storedTextKey() wrote and nothing else", () => {
  const key = "0123456789abcdef";
  assert.deepEqual(parseTextKey(storedTextKey(key, 1234)), { key, chars: 1234 });
  for (const bad of [null, undefined, "", key, `${key}:`, `${key}:0`, `${key}:x`, `${key}-12`]) {
    assert.equal(parseTextKey(bad), null, String(bad));
  }
});

Deno.test("parseTextKey(): a key of the SHA-256 form (64 hex digits) is a miss, not an error", () => {
  assert.equal(parseTextKey(`${"0123456789abcdef".repeat(4)}:1234`), null);
});

Deno.test("textKey() is XXH64 of the version, hash, patterns and text, whatever the text's length", async () => {
  // Pinned: a stored key must mean the same after an upgrade of xxhash-wasm (a different
  // value would make every source miss once). The value is the C xxHash's (python-xxhash:
  // xxh64(b"1\0" + b"a" * 64 + b"\0\0Fee: \xc2\xa3719").hexdigest()).
  assert.equal(await textKey("Fee: £719", [], "a".repeat(64)), "d9ba4df0b80ade99");
  // Slices of 64 Ki characters: the same key as one pass over the same UTF-8, also when a
  // surrogate pair straddles a slice's end.
  const { default: xxhash } = await import("xxhash-wasm");
  const { h64ToString } = await xxhash();
  const prefix = `1\u0000${"a".repeat(64)}\u0000\u0000`;
  for (
    const text of [
      "x".repeat(200_000),
      `${"y".repeat(64 * 1024 - 1)}\u{1F600}${"z".repeat(70_000)}`,
      "é€😀".repeat(50_000),
    ]
  ) {
    assert.equal(await textKey(text, [], "a".repeat(64)), h64ToString(prefix + text));
  }
});
