/**
 * changeFingerprint() line by line (detect.ts) against the whole-text expressions it
 * replaced, kept here as the reference: the same fingerprint for every text, so no stored
 * hash moves. Random texts of the extractor's layout marks, dates, rules, cells, relative
 * times, copyright years, words and every kind of whitespace and line end.
 */
import assert from "node:assert/strict";
import { changeFingerprint } from "../../../shared/pipeline/detect.ts";
import { seeded } from "../../fixtures/bench_page.ts";

// The implementation before the line-by-line pass (main a21abac), verbatim.
// What the extractor adds for layout (heading marks, list prefixes, cell separators, quote
// marks, rules), and what a page generates from the clock of the request (relative times).
const LAYOUT_PREFIX = /^(?:#{1,6} |> ?|\s*(?:[*\-\u2022]|\d{1,4}[.)]|[a-z]{1,3}[.)]) +)/gm;
const CELL_SEPARATOR = / \| /g;
const _MONTH = String
  .raw`(?:jan(?:uary|uar)?|janv(?:ier)?|feb(?:ruary|ruar)?|f[ée]v(?:r(?:ier)?)?|m(?:ar(?:ch|s)?|ä(?:rz)?)|apr(?:il)?|avr(?:il)?|may|mai|ma[iy]o|jun[ei]?|juin|jul[iy]?|juil(?:let)?|aug(?:ust)?|ao[uû]t?|sep(?:t(?:ember|embre)?)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|de[cz](?:ember)?|d[ée]c(?:embre)?|enero|febrero|marzo|abril|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\.?`;
/**
 * A line that is nothing but a date ("29 avr. 2022", "March 3, 2024", "2024-03-03"): the
 * entries of changelog and news lists, which sites render in the reader's time zone.
 */
const DATE_LINE = new RegExp(
  String
    .raw`^(?:(?:\d{1,2}(?:er)?\.? ${_MONTH},? \d{4})|(?:${_MONTH} \d{1,2}(?:st|nd|rd|th)?,? \d{4})|(?:\d{4}-\d{2}-\d{2})|(?:\d{1,2}[/.]\d{1,2}[/.]\d{2,4}))$`,
  "iu",
);
/** Longest line {@link DATE_LINE} can match ("Wednesday 30 septiembre, 2026" is shorter). */
const DATE_LINE_MAX = 40;

/** Drops the lines that are only a date. */
function _withoutDateLines(text: string): string {
  const lines = text.split("\n");
  let dropped = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const end = line.charCodeAt(line.length - 1); // every date form ends with a digit
    if (
      line.length <= DATE_LINE_MAX && line.length >= 6 && end >= 48 && end <= 57 &&
      DATE_LINE.test(line)
    ) {
      lines[i] = "";
      dropped = true;
    }
  }
  return dropped ? lines.join("\n") : text;
}
const RULE_LINE = /^-{3,}$/gm;
const RELATIVE_TIME = new RegExp(
  [
    // English: "yesterday", "this week", "3 days ago", "over a week ago", "a few minutes ago"
    String
      .raw`\b(?:just now|today|yesterday|(?:this|last) (?:week|month|year)|(?:(?:over|about|almost|nearly|less than|more than) )?(?:an?|one|two|three|few|a few|several|\d+) (?:second|minute|hour|day|week|month|year)s? ago)\b`,
    // French: "hier", "aujourd'hui", "cette semaine", "il y a 3 jours", "il y a plus d'une semaine"
    String
      .raw`\b(?:aujourd[’']hui|hier|cette (?:semaine|année)|ce mois-ci|il y a (?:(?:plus d[’']|plus de |environ |moins d[’']|moins de |quelques )?(?:une?|\d+|quelques)? ?(?:secondes?|minutes?|heures?|jours?|semaines?|mois|ans?)))(?![\p{L}])`,
  ].join("|"),
  "giu",
);
/** "© 2025", "Copyright 2019-2025", "(c) 2024 Acme": the year follows the calendar. */
const COPYRIGHT_YEAR = /((?:©|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?)\d{4}/giu;
// Cheap tests that every match of the rule they guard needs: most texts skip the rule's scan.
/** Words one of which every match of RELATIVE_TIME holds (lowercase). */
const RELATIVE_WORDS = [
  "ago",
  "just now",
  "today",
  "yesterday",
  "this week",
  "this month",
  "this year",
  "last week",
  "last month",
  "last year",
  "aujourd",
  "hier",
  "cette semaine",
  "cette année",
  "ce mois",
  "il y a",
];
/** The fixed parts of COPYRIGHT_YEAR (lowercase). */
const COPYRIGHT_WORDS = ["©", "(c)", "copyright"];
/** Whitespace other than a single space: what folding to one space rewrites. */
const SPACE_RUN =
  /\s{2,}|[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/g;

/**
 * The part of a normalised text whose change is a change of the policy: its words. Layout
 * (line breaks, heading levels, list numbering, table cell separators) is left out, so a
 * page that turns a paragraph into a heading or a `<br>` into a new paragraph has not
 * changed; relative times ("Updated yesterday" → "Updated this week") are the clock of the
 * request, not of the rules, and become one placeholder, as does the year of a copyright
 * notice; a line that is only a date (a changelog entry) is left out. The source's hash is this
 * fingerprint's; the stored text and its diffs keep the layout.
 * @example
 * changeFingerprint("# Terms\n\nUpdated yesterday") === changeFingerprint("Terms Updated this week"); // true
 */
function referenceFingerprint(text: string): string {
  let out = text.replace(LAYOUT_PREFIX, "");
  out = _withoutDateLines(out);
  if (out.includes("---")) out = out.replace(RULE_LINE, "");
  if (out.includes(" | ")) out = out.replace(CELL_SEPARATOR, " ");
  const lower = out.toLowerCase();
  if (RELATIVE_WORDS.some((word) => lower.includes(word))) {
    out = out.replace(RELATIVE_TIME, "\u2039time\u203a");
  }
  if (COPYRIGHT_WORDS.some((word) => lower.includes(word))) {
    out = out.replace(COPYRIGHT_YEAR, "$1\u2039year\u203a");
  }
  return out.replace(SPACE_RUN, " ").trim();
}

const FRAGMENTS = [
  "# ",
  "## ",
  "###### ",
  "####### ",
  "> ",
  ">",
  " * ",
  "* ",
  "- ",
  "• ",
  "\u2022 ",
  "1. ",
  "12) ",
  "2024. ",
  "a. ",
  "iv) ",
  "abcd) ",
  "  - ",
  "\t* ",
  "\u00a0- ",
  "\u2003* ",
  "#",
  "-",
  "29 avr. 2022",
  "March 3, 2024",
  "3 March 2024",
  "1er mai 2021",
  "2024-03-03",
  "3/4/24",
  "01.02.2024",
  "Section 12",
  "12 2024",
  "Wednesday 30 septiembre, 2026",
  "MARCH 3 2024",
  "---",
  "-----",
  "- ---",
  "--",
  "a | b",
  " | ",
  "|",
  "||",
  "3 days ago",
  "Yesterday",
  "THIS WEEK",
  "hier",
  "Il y a 2 jours",
  "aujourd’hui",
  "Agone",
  "© 2024",
  "(c) 2019 - 2024",
  "Copyright 2025 Acme",
  "copyright",
  "Policy",
  "applies.",
  "rule",
  "Fees",
  "x",
  "é",
  "Ünïcode",
  "£719",
  "http://a.b/c?d",
  " ",
  "  ",
  "\t",
  "\u00a0",
  "\u2003",
  "\u3000",
  "\n",
  "\n",
  "\n",
  "\n\n",
  "\n  \n",
  "\n\t\n",
  "\n\n\n",
];
const RARE = ["\r\n", "\r", "\u2028", "\u2029", "\v", "\f"];

Deno.test("changeFingerprint() line by line equals the whole-text expressions on 20,000 random texts", () => {
  const random = seeded(2026);
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)] as string;
  for (let i = 0; i < 20_000; i++) {
    const n = 1 + Math.floor(random() * 30);
    let text = "";
    for (let k = 0; k < n; k++) text += random() < 0.03 ? pick(RARE) : pick(FRAGMENTS);
    assert.equal(changeFingerprint(text), referenceFingerprint(text), JSON.stringify(text));
  }
});

Deno.test("changeFingerprint() equals the reference on the bench site's and the fixtures' pages", async () => {
  const { benchSitePage } = await import("../../fixtures/bench_page.ts");
  const { extractHtmlText } = await import("../../../shared/pipeline/html_extractor.ts");
  const { normaliseText } = await import("../../../shared/pipeline/normalise.ts");
  for (let i = 0; i < 20; i++) {
    const page = benchSitePage(i, { token: crypto.randomUUID(), at: new Date() });
    const text = normaliseText(extractHtmlText(page));
    assert.equal(changeFingerprint(text), referenceFingerprint(text));
  }
});
