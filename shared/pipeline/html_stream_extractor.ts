/**
 * HTML to readable text in one pass, without a DOM: htmlparser2's tokenizer (its runs of
 * plain text skipped by string search: html_tokenizer.ts) feeds a small tree builder that
 * keeps only a stack of open elements. Whether an element is dropped is
 * decided when it opens (tag, `hidden`, overlays, advert and consent names, chrome tags
 * and roles, page-level header/footer) from the rules in `html_rules.ts`; the text of what
 * is kept is recorded as a flat list of open/close/text events, and at the end the
 * main-content element is chosen and its events are laid out by {@link HtmlTextBuilder}.
 *
 * This file holds the project's one HTML layout engine: the selector path (cheerio, for a
 * source's own CSS selector) turns its matches into the same events ({@link renderNodes})
 * and lays them out with the same renderer. The tree builder follows the HTML5
 * tree-construction rules that change the text's structure, so both paths see the same
 * tree: implied end tags (`p`, `li`, `dd`/`dt`, table cells and rows, headings), end tags
 * that only close what is in scope, ignored table tags outside tables, an implied `tr` for
 * cells, one form at a time (a `</form>` that closes a form with open children), forms
 * opened directly in tables, a table inside an open `<p>` in quirks mode, the newline
 * after `<pre>`, content of `<noscript>` and `<iframe>` as raw text, head content, and
 * `</body>`/`</html>` that do not end the document. At most {@link MAX_HTML_DEPTH}
 * elements are open at once, so the work per tag is bounded (linear time on any page).
 *
 * Known differences from parse5 (see tests/unit/pipeline/html_stream_extractor_test.ts):
 * mis-nested formatting tags around blocks (the adoption agency algorithm); attributes of
 * a second `<body>` tag.
 * @module
 */
import type { TokenizerCallbacks } from "htmlparser2";
import { errorMessage } from "../errors.ts";
import { PipelineError } from "./errors.ts";
import { isQuirksDoctype } from "./html_document_mode.ts";
import { HtmlTextBuilder } from "./html_text_builder.ts";
import { FastTokenizer } from "./html_tokenizer.ts";
import {
  articleIsContent,
  CHROME_ROLES,
  CHROME_TAGS,
  CONTENT_ANCESTOR_TAGS,
  FORM_CONTENT_TAGS,
  hasClassToken,
  holdsMainShare,
  isAdLike,
  isChromeLike,
  MAIN_CANDIDATES,
  NEVER_TEXT_TAGS,
  OVERLAY_ROLES,
  SIGNUP_MAX_CHARS,
} from "./html_rules.ts";

// Event opcodes (low two bits); an OPEN carries its layout kind in the upper bits.
const OPEN = 0;
const CLOSE = 1;
const TEXT = 2;
const COMMENT = 3;

// Layout kinds, as html-to-text formats each tag with the extractor's options.
const K_INLINE = 0;
const K_BLOCK1 = 1;
const K_BLOCK2 = 2;
const K_PRE = 3;
const K_QUOTE = 4;
const K_HEADING = 5;
const K_HR = 6;
const K_BR = 7;
const K_UL = 8;
const K_OL = 9;
const K_LI = 10;
const K_CELL = 11;
const K_SKIP = 12;

const KIND = new Map<string, number>([
  ["article", K_BLOCK1],
  ["aside", K_BLOCK1],
  ["div", K_BLOCK1],
  ["footer", K_BLOCK1],
  ["form", K_BLOCK1],
  ["header", K_BLOCK1],
  ["main", K_BLOCK1],
  ["nav", K_BLOCK1],
  ["section", K_BLOCK1],
  ["tr", K_BLOCK1],
  ["p", K_BLOCK2],
  ["table", K_BLOCK2],
  ["caption", K_BLOCK2],
  ["dt", K_BLOCK2],
  ["dd", K_BLOCK2],
  ["pre", K_PRE],
  ["blockquote", K_QUOTE],
  ["h1", K_HEADING],
  ["h2", K_HEADING],
  ["h3", K_HEADING],
  ["h4", K_HEADING],
  ["h5", K_HEADING],
  ["h6", K_HEADING],
  ["hr", K_HR],
  ["br", K_BR],
  ["ul", K_UL],
  ["ol", K_OL],
  ["li", K_LI],
  ["td", K_CELL],
  ["th", K_CELL],
  ["img", K_SKIP],
]);

const NEVER_TEXT = new Set(NEVER_TEXT_TAGS);
const CHROME_TAG = new Set(CHROME_TAGS);
const CHROME_ROLE = new Set(CHROME_ROLES);
const OVERLAY_ROLE = new Set(OVERLAY_ROLES);
const CONTENT_ANCESTOR = new Set(CONTENT_ANCESTOR_TAGS);
const FORM_CONTENT = new Set(FORM_CONTENT_TAGS);

/** Void elements: no content, no end tag. */
const VOID_TAGS = [
  "area",
  "base",
  "basefont",
  "bgsound",
  "br",
  "col",
  "embed",
  "frame",
  "hr",
  "img",
  "input",
  "keygen",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
];
const VOID = new Set(VOID_TAGS);
const HEADING_TAGS = ["h1", "h2", "h3", "h4", "h5", "h6"];
const HEADING = new Set(HEADING_TAGS);
/** Table tags that end a `<select>` opened inside a table. */
const TABLE_TAGS = new Set(["caption", "table", "tbody", "tfoot", "thead", "tr", "td", "th"]);
/**
 * HTML5's block containers ("in body": their start tag closes an open `<p>`, their end
 * tag closes them only when they are in scope); the lists below are built from them.
 */
const BLOCK_CONTAINERS = [
  "address",
  "article",
  "aside",
  "blockquote",
  "center",
  "details",
  "dialog",
  "dir",
  "div",
  "dl",
  "fieldset",
  "figcaption",
  "figure",
  "footer",
  "header",
  "hgroup",
  "main",
  "menu",
  "nav",
  "ol",
  "search",
  "section",
  "summary",
  "ul",
];
/** Start tags that close an open `<p>` (in button scope) first. */
const CLOSES_P = new Set([
  ...BLOCK_CONTAINERS,
  "p",
  ...HEADING_TAGS,
  "pre",
  "listing",
  "hr",
  "xmp",
  "plaintext",
  "li",
  "dd",
  "dt",
]);
/** End tags that close their element only when it is in scope. */
const BLOCK_END = new Set([
  ...BLOCK_CONTAINERS,
  "button",
  "listing",
  "pre",
  "applet",
  "marquee",
  "object",
]);
const IMPLIED_END = new Set(["dd", "dt", "li", "optgroup", "option", "p", "rb", "rp", "rt", "rtc"]);
/** MathML text integration points: their children are HTML again. */
const MATHML_TEXT_TAGS = ["mi", "mo", "mn", "ms", "mtext"];
const SCOPE = new Set([
  "applet",
  "caption",
  "html",
  "table",
  "td",
  "th",
  "marquee",
  "object",
  "template",
  ...MATHML_TEXT_TAGS,
  "annotation-xml",
  "foreignobject",
  "desc",
]);
const BUTTON_SCOPE = new Set([...SCOPE, "button"]);
const LIST_SCOPE = new Set([...SCOPE, "ol", "ul"]);
const TABLE_SCOPE = new Set(["html", "table", "template"]);
const TABLE_BODY = new Set(["tbody", "thead", "tfoot"]);
/** Elements that belong to the head when they come before any body content. */
const HEAD_TAGS = new Set([
  "base",
  "basefont",
  "bgsound",
  "link",
  "meta",
  "title",
  "noframes",
  "script",
  "style",
  "template",
  "noscript",
]);
/**
 * HTML5's "special" elements: an unmatched end tag stops at them. They are the block
 * containers (but `dialog`), the end-tag blocks, the void elements, the headings, the
 * table and head tags, and these.
 */
const SPECIAL = new Set([
  ...[...BLOCK_END].filter((name) => name !== "dialog"),
  ...VOID_TAGS,
  ...HEADING_TAGS,
  ...TABLE_TAGS,
  ...HEAD_TAGS,
  "body",
  "colgroup",
  "dd",
  "dt",
  "form",
  "frameset",
  "head",
  "html",
  "iframe",
  "li",
  "noembed",
  "p",
  "plaintext",
  "select",
  "textarea",
  "xmp",
]);
/** Formatting elements: HTML5 re-opens them after a block that closed them. */
const FORMATTING_TAGS = [
  "a",
  "b",
  "big",
  "code",
  "em",
  "font",
  "i",
  "nobr",
  "s",
  "small",
  "strike",
  "strong",
  "tt",
  "u",
];
const FORMATTING = new Set(FORMATTING_TAGS);
/**
 * Start tags that leave SVG or MathML content (HTML5's "breakout" list): the formatting
 * elements but `a` and `font` (HTML5 lets `font` break out only with a color, face or size
 * attribute; here it never does), the headings, and these.
 */
const BREAKOUT = new Set([
  ...FORMATTING_TAGS.filter((name) => name !== "a" && name !== "font"),
  ...HEADING_TAGS,
  "blockquote",
  "body",
  "br",
  "center",
  "dd",
  "div",
  "dl",
  "dt",
  "embed",
  "head",
  "hr",
  "img",
  "li",
  "listing",
  "menu",
  "meta",
  "ol",
  "p",
  "pre",
  "ruby",
  "span",
  "sub",
  "sup",
  "table",
  "ul",
  "var",
]);
/** SVG and MathML elements whose children are HTML again. */
const INTEGRATION_POINTS = new Set([
  "foreignobject",
  "desc",
  "title",
  ...MATHML_TEXT_TAGS,
  "annotation-xml",
]);
/** Elements that start a new scope of re-opened formatting elements. */
const MARKER_TAGS = new Set(["applet", "marquee", "object", "template", "td", "th", "caption"]);
/** Start tags before which HTML5 does not re-open formatting elements. */
const NO_REOPEN = new Set([
  ...CLOSES_P,
  ...TABLE_TAGS,
  ...HEAD_TAGS,
  "form",
  "hr",
  "textarea",
  "iframe",
  "noembed",
  "noscript",
  "rb",
  "rtc",
  "rp",
  "rt",
  "frameset",
  "col",
  "colgroup",
  "frame",
]);
/** Where HTML5 moves other content out of the table ("foster parenting"). */
const TABLE_CONTEXT = new Set(["table", "tbody", "thead", "tfoot", "tr"]);
/** Start tags that stay where they are inside a table (not cells' content). */
const TABLE_ALLOWED = new Set([
  ...TABLE_TAGS,
  "colgroup",
  "col",
  "style",
  "script",
  "template",
  "input",
  "form",
]);
/**
 * Most elements open at once (Blink's parser limit). Start tags deeper than this are
 * ignored with their end tags and their text joins the element at the limit, so that
 * the scope checks of every tag stay bounded and a page cannot make the parse quadratic.
 */
export const MAX_HTML_DEPTH = 512;
/** Raw-text elements, which hold no elements: still opened past the depth limit. */
const RAW_TEXT = new Set([
  "script",
  "style",
  "title",
  "textarea",
  "noscript",
  "iframe",
  "xmp",
  "noembed",
  "noframes",
]);

/** Text with something other than HTML whitespace. */
const HTML_NON_SPACE = /[^ \t\n\f\r]/;
/** Raw-text elements in HTML5 that htmlparser2 tokenizes as markup (all dropped). */
const RAW_SKIPPED = new Set(["noscript", "iframe"]);

// What each tag name is, as bits looked up once per tag (one Map lookup instead of a
// dozen Set lookups on the hot path); the layout kind sits above bit 24.
const F_VOID = 1 << 0;
const F_CLOSES_P = 1 << 1;
const F_HEADING = 1 << 2;
const F_NO_REOPEN = 1 << 3;
const F_TABLE_ALLOWED = 1 << 4;
const F_FORMATTING = 1 << 5;
const F_NEVER_TEXT = 1 << 6;
const F_CHROME = 1 << 7;
const F_CONTENT_ANCESTOR = 1 << 8;
const F_FORM_CONTENT = 1 << 9;
const F_MARKER = 1 << 10;
const F_RAW_SKIPPED = 1 << 11;
const F_SPECIAL = 1 << 12;
const F_IMPLIED_END = 1 << 13;
const F_TABLE_CONTEXT = 1 << 14;
const F_BLOCK_END = 1 << 15;
const F_SCOPE = 1 << 16;
const F_BUTTON_SCOPE = 1 << 17;
const F_LIST_SCOPE = 1 << 18;
const F_TABLE_SCOPE = 1 << 19;
const KIND_SHIFT = 24;

const TAG_FLAGS = new Map<string, number>();
for (
  const [set, flag] of [
    [VOID, F_VOID],
    [CLOSES_P, F_CLOSES_P],
    [HEADING, F_HEADING],
    [NO_REOPEN, F_NO_REOPEN],
    [TABLE_ALLOWED, F_TABLE_ALLOWED],
    [FORMATTING, F_FORMATTING],
    [NEVER_TEXT, F_NEVER_TEXT],
    [CHROME_TAG, F_CHROME],
    [CONTENT_ANCESTOR, F_CONTENT_ANCESTOR],
    [FORM_CONTENT, F_FORM_CONTENT],
    [MARKER_TAGS, F_MARKER],
    [RAW_SKIPPED, F_RAW_SKIPPED],
    [SPECIAL, F_SPECIAL],
    [IMPLIED_END, F_IMPLIED_END],
    [TABLE_CONTEXT, F_TABLE_CONTEXT],
    [BLOCK_END, F_BLOCK_END],
    [SCOPE, F_SCOPE],
    [BUTTON_SCOPE, F_BUTTON_SCOPE],
    [LIST_SCOPE, F_LIST_SCOPE],
    [TABLE_SCOPE, F_TABLE_SCOPE],
  ] as const
) {
  for (const name of set) TAG_FLAGS.set(name, (TAG_FLAGS.get(name) ?? 0) | flag);
}
for (const [name, kind] of KIND) {
  TAG_FLAGS.set(name, (TAG_FLAGS.get(name) ?? 0) | (kind << KIND_SHIFT));
}

/** The bits of a tag name. */
function _flags(name: string): number {
  return TAG_FLAGS.get(name) ?? 0;
}

// Attributes read (bit flags, also used to keep only the first of duplicates).
const A_CLASS = 1;
const A_ID = 2;
const A_ROLE = 4;
const A_HIDDEN = 8;
const A_ARIA_HIDDEN = 16;
const A_START = 32;
const A_TYPE = 64;
const A_ARIA_MODAL = 128;
/** The attributes read, by name (their lengths are the ones onattribname looks up). */
const ATTRIBUTE_CODES = new Map<string, number>([
  ["class", A_CLASS],
  ["id", A_ID],
  ["role", A_ROLE],
  ["hidden", A_HIDDEN],
  ["aria-hidden", A_ARIA_HIDDEN],
  ["start", A_START],
  ["type", A_TYPE],
  ["aria-modal", A_ARIA_MODAL],
]);

/** Candidate slot not found yet / found on `<html>` or `<body>` (the whole document). */
const UNSET = -2;
const WHOLE = -1;

/** The HTML whitespace set, for "is this text only whitespace" before the body. */
const LEADING_HTML_SPACE = /^[ \t\n\f\r]+/;
/** What cheerio's `.text().trim()` and html-to-text's list filter call blank. */
const NON_BLANK = /\S/;

/** Events `from`..`to` that belong before event `at` (content moved out of a table). */
interface _Segment {
  at: number;
  from: number;
  to: number;
}

/** The attributes the extractor reads, saved to re-open a formatting element. */
interface _Attrs {
  cls: string | undefined;
  id: string | undefined;
  role: string | undefined;
  hidden: boolean;
  ariaHidden: string | undefined;
  start: string | undefined;
  type: string | undefined;
}

/** An entry of HTML5's list of active formatting elements (null is a scope marker). */
interface _Formatting {
  name: string;
  attrs: _Attrs;
  frame: _Frame;
}

/** A form whose content decides whether it stays. */
interface _FormState {
  start: number;
  hasContent: boolean;
}

/** An open element. */
class _Frame {
  name: string;
  /** The tag's bits (F_*). */
  flags: number;
  /** Dropped, with everything inside it. */
  skip: boolean;
  /** Has an OPEN event (kept and not an implied wrapper). */
  emitted = false;
  /** How many of its ancestors (and itself) make a header/footer part of the content. */
  landmarks = 0;
  /** An SVG or MathML element. */
  foreign = false;
  form: _FormState | null = null;
  /** Entries of the candidate lists this element made, or null. */
  candidates: number[] | null = null;
  /** Index into the article lists, or -1. */
  article = -1;
  /** A form removed from the stack by `</form>` that ends when this element ends. */
  after: _Frame | null = null;
  /** Event index where the element starts (tables: where moved content goes). */
  position = 0;
  /** Its parent is dropped (for a table: content moved out of it is dropped too). */
  parentSkip = false;
  /** Moved out of a table: the table's position, else -1. */
  fosterAt = -1;
  /** On the stack of open elements. */
  open = false;
  /** Started a scope of formatting elements (cells, captions, objects). */
  marker = false;
  /** Index of its OPEN event (when emitted). */
  openAt = -1;
  /** Characters of text emitted before it opened (trimmed pieces, as `_textLength`). */
  charsAt = 0;
  /** Holds an e-mail field, or a short element that does: it may be part of a sign-up panel. */
  signup = false;
  /** Short sign-up elements inside it (OPEN, CLOSE index pairs), dropped when it is long. */
  signupRanges: number[] | null = null;

  constructor(name: string, skip: boolean, flags = _flags(name)) {
    this.name = name;
    this.skip = skip;
    this.flags = flags;
  }
}

/** Tokenizer callbacks building the event list. */
class _StreamParser implements TokenizerCallbacks {
  readonly html: string;
  readonly ops: number[] = [];
  readonly vals: string[] = [];
  /** `start` and `type` of each `<ol>`, by OPEN index. */
  readonly olAttrs = new Map<number, [string | undefined, string | undefined]>();
  /**
   * Elements matching a main-content candidate: slot (index in MAIN_CANDIDATES), first
   * and last event (WHOLE for `<html>`/`<body>`). All are kept, not only the first, since
   * moving content out of tables can change which comes first.
   */
  readonly candSlot: number[] = [];
  readonly candStart: number[] = [];
  readonly candEnd: number[] = [];
  readonly articleStart: number[] = [];
  readonly articleEnd: number[] = [];
  /** Content moved out of tables, put in place by {@link _placeFosteredContent}. */
  segments: _Segment[] = [];

  private stack: _Frame[] = [];
  private top: _Frame | null = null;
  private pending = "";
  private bodyStarted = false;
  /** Index of the first event of the body (a head's `<title>` comes before it). */
  bodyStart = 0;
  private rootSeen = false;
  /** `<html>` or `<body>` itself is dropped: the page has no text. */
  dropAll = false;
  private rawEnd: string | null = null;
  private dropLf = false;
  /** 1 when `<html>` or `<body>` has role=main (every header/footer is then content). */
  private rootLandmarks = 0;
  private selects = 0;
  private formPointer: _Frame | "detached" | null = null;
  private openForms: _FormState[] = [];
  /** Start tags ignored past {@link MAX_HTML_DEPTH} whose end tags are still to come. */
  private overflow = 0;
  /** Some start tag was past {@link MAX_HTML_DEPTH}. */
  tooDeep = false;
  /** Text read while a table (not a cell) is the current element. */
  private tableText = "";
  /** Quirks mode (no or old doctype); null until the first tag or text decides. */
  private quirks: boolean | null = null;
  /** HTML5's list of active formatting elements; null marks a cell's or object's scope. */
  private formatting: (_Formatting | null)[] = [];

  // The tag being read.
  private tagName = "";
  private seen = 0;
  private attr = 0;
  private value = "";
  private aClass: string | undefined;
  private aId: string | undefined;
  private aRole: string | undefined;
  private aHidden = false;
  private aAriaHidden: string | undefined;
  private aStart: string | undefined;
  private aType: string | undefined;
  private aAriaModal: string | undefined;

  /** The page has NUL characters, which HTML5 drops from text. */
  private readonly hasNul: boolean;
  /** Characters of the text events so far (each trimmed, as `_textLength` counts). */
  private chars = 0;

  constructor(html: string, hasNul: boolean) {
    this.html = html;
    this.hasNul = hasNul;
  }

  // --- tokenizer callbacks ---

  ontext(start: number, end: number): void {
    this.text(this.html.slice(start, end));
  }

  ontextentity(codepoint: number): void {
    this.text(String.fromCodePoint(codepoint));
  }

  onopentagname(start: number, end: number): void {
    this.tagName = this.html.slice(start, end).toLowerCase();
    this.seen = 0;
    this.attr = 0;
    this.aClass =
      this.aId =
      this.aRole =
      this.aAriaHidden =
      this.aStart =
      this.aType =
      this.aAriaModal =
        undefined;
    this.aHidden = false;
  }

  onattribname(start: number, end: number): void {
    const length = end - start;
    let code = 0;
    if (
      length === 2 || length === 4 || length === 5 || length === 6 || length === 10 ||
      length === 11
    ) {
      code = ATTRIBUTE_CODES.get(this.html.slice(start, end).toLowerCase()) ?? 0;
    }
    // Like HTML5, the first of duplicate attributes wins.
    if (code & this.seen) code = 0;
    this.seen |= code;
    this.attr = code;
    this.value = "";
  }

  onattribdata(start: number, end: number): void {
    if (this.attr) this.value += this.html.slice(start, end);
  }

  onattribentity(codepoint: number): void {
    if (this.attr) this.value += String.fromCodePoint(codepoint);
  }

  onattribend(): void {
    switch (this.attr) {
      case A_CLASS:
        this.aClass = this.value;
        break;
      case A_ID:
        this.aId = this.value;
        break;
      case A_ROLE:
        this.aRole = this.value;
        break;
      case A_HIDDEN:
        // hidden="until-found": collapsed sections the browser's find-in-page opens (text).
        this.aHidden = this.value.toLowerCase() !== "until-found";
        break;
      case A_ARIA_HIDDEN:
        this.aAriaHidden = this.value;
        break;
      case A_START:
        this.aStart = this.value;
        break;
      case A_TYPE:
        this.aType = this.value;
        break;
      case A_ARIA_MODAL:
        this.aAriaModal = this.value;
        break;
    }
    this.attr = 0;
  }

  onopentagend(): void {
    this.start(this.tagName, false);
  }

  onselfclosingtag(): void {
    this.start(this.tagName, true);
  }

  onclosetag(start: number, end: number): void {
    this.end(this.html.slice(start, end).toLowerCase());
  }

  oncomment(): void {
    this.dropLf = false;
    if (this.rawEnd !== null) return;
    this.flushTableText();
    const top = this.top;
    // Comments only matter as items of a list (html-to-text gives them an empty line).
    if (!top || !top.emitted || (top.name !== "ul" && top.name !== "ol")) return;
    this.flush();
    this.ops.push(COMMENT);
    this.vals.push("");
  }

  oncdata(): void {
    this.oncomment(); // in HTML, CDATA sections are comments
  }

  onprocessinginstruction(): void {
    this.oncomment(); // HTML5 reads <?...> as a comment
  }

  ondeclaration(start: number, end: number): void {
    this.dropLf = false; // doctype (or a bogus <!...> in the body: nothing to show)
    this.flushTableText();
    if (this.quirks !== null) return;
    const declaration = this.html.slice(start, end);
    if (/^doctype/i.test(declaration)) this.quirks = isQuirksDoctype(declaration);
  }

  onend(): void {
    this.flushTableText();
    while (this.stack.length > 0) this.popFrame();
    this.flush(); // text after the last element, or kept from before a dropped form
    if (!this.bodyStarted) this.bodyStart = this.ops.length; // only a head: no body text
  }

  // --- tree construction ---

  private text(text: string): void {
    if (this.rawEnd !== null) return;
    if (this.hasNul && text.includes("\0")) {
      text = text.replaceAll("\0", "");
      if (text === "") return;
    }
    if (this.dropLf) {
      this.dropLf = false;
      if (text.charCodeAt(0) === 10) {
        text = text.slice(1);
        if (text === "") return;
      }
    }
    const top = this.top;
    if (!this.bodyStarted) {
      if (top) {
        if (top.skip) return; // inside <style>, <script>, ... of the head
      } else {
        text = text.replace(LEADING_HTML_SPACE, "");
        if (text === "") return;
        this.quirks ??= true;
        this.startBody();
      }
    }
    if (this.inTableContext()) {
      this.tableText += text;
      return;
    }
    if (this.formatting.length > 0) this.reopenFormatting();
    const current = this.top;
    if (current ? current.skip : this.dropAll) return;
    this.pending += text;
  }

  /**
   * Text read directly in a table: whitespace stays there, anything else moves before the
   * table (into the table's parent), as HTML5's "in table text" mode does.
   */
  private flushTableText(): void {
    const text = this.tableText;
    if (text === "") return;
    this.tableText = "";
    if (!HTML_NON_SPACE.test(text)) {
      const top = this.top;
      if (top && !top.skip) this.pending += text;
      return;
    }
    if (this.formatting.length > 0) this.reopenFormatting();
    if (!this.inTableContext()) {
      // Re-opened formatting elements were moved before the table; the text goes in them.
      const top = this.top;
      if (top ? !top.skip : !this.dropAll) this.pending += text;
      return;
    }
    const table = this.lastTable();
    if (!table || table.parentSkip) return;
    this.flush();
    const from = this.ops.length;
    this.ops.push(TEXT);
    this.vals.push(text);
    this.chars += text.trim().length;
    this.segments.push({ at: table.position, from, to: from });
  }

  /** True when the current element is a table, table section or row (not a cell). */
  private inTableContext(): boolean {
    const top = this.top;
    return top !== null && (top.flags & F_TABLE_CONTEXT) !== 0 && !top.foreign;
  }

  private lastTable(): _Frame | null {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (frame.name === "table" && !frame.foreign) return frame;
    }
    return null;
  }

  private startBody(): void {
    this.bodyStarted = true;
    this.flush();
    this.bodyStart = this.ops.length;
  }

  private flush(): void {
    if (this.pending === "") return;
    this.ops.push(TEXT);
    this.vals.push(this.pending);
    this.chars += this.pending.trim().length;
    this.pending = "";
  }

  private start(name: string, selfClosing: boolean): void {
    this.dropLf = false;
    if (this.rawEnd !== null) return;
    if (this.stack.length >= MAX_HTML_DEPTH && !VOID.has(name) && !RAW_TEXT.has(name)) {
      this.overflow++;
      this.tooDeep = true;
      return;
    }
    this.flushTableText();
    this.quirks ??= true; // no doctype before the first tag
    if (name === "image") name = "img";
    if (name === "html") {
      if (!this.bodyStarted) this.rootElement();
      return;
    }
    if (!this.bodyStarted) {
      if (name === "head") return;
      if (name === "body") {
        this.startBody();
        this.rootElement();
        return;
      }
      if (HEAD_TAGS.has(name)) {
        // Never shown, but the head's <title> can be what a main-content candidate matches.
        this.insert(name, selfClosing, true, name !== "title");
        return;
      }
      this.startBody();
    } else if (name === "body" || name === "head") {
      return;
    }
    if (this.inForeignContent()) {
      if (!BREAKOUT.has(name)) {
        this.insert(name, selfClosing, true, false);
        return;
      }
      this.leaveForeignContent();
    }
    if (this.selects > 0 && this.startInSelect(name, selfClosing)) return;

    switch (name) {
      case "td":
      case "th":
        this.closeCell();
        if (this.inScope("tr", F_TABLE_SCOPE)) this.popToCurrent("tr");
        else if (this.inScope("table", F_TABLE_SCOPE)) {
          this.popToTableBody();
          this.insert("tr", false, false, false);
        } else return; // a cell outside any table is ignored
        break;
      case "tr":
        this.closeCell();
        if (this.inScope("tr", F_TABLE_SCOPE)) this.popUntil("tr");
        if (!this.inScope("table", F_TABLE_SCOPE)) return;
        this.popToTableBody();
        break;
      case "tbody":
      case "thead":
      case "tfoot":
      case "caption":
      case "colgroup":
      case "col":
        this.closeCell();
        if (!this.inScope("table", F_TABLE_SCOPE)) return;
        this.popToCurrent("table");
        break;
      case "table": {
        const mode = this.tableMode();
        if (mode === "table" || mode === "tbody" || mode === "tr") this.popUntil("table");
        // In quirks mode a table does not end an open <p> (HTML5): it stays inside it.
        if (!this.quirks) this.closeP();
        break;
      }
      case "form": {
        if (this.formPointer !== null) return; // one form at a time
        const mode = this.tableMode();
        if (mode === "table" || mode === "tbody" || mode === "tr") {
          // HTML5 inserts an empty form in the table; having no content, it is dropped.
          this.formPointer = "detached";
          return;
        }
        this.closeP();
        const frame = this.insert(name, selfClosing, true, false);
        this.formPointer = frame;
        return;
      }
      case "li":
        this.closeListItem(["li"]);
        break;
      case "dd":
      case "dt":
        this.closeListItem(["dd", "dt"]);
        break;
      case "option":
        if (this.top?.name === "option") this.popFrame();
        break;
      case "optgroup":
        if (this.top?.name === "option") this.popFrame();
        break;
      case "a":
        this.closeOpenLink();
        break;
      case "nobr":
        this.reopenFormatting();
        if (this.inScope("nobr", F_SCOPE)) this.endFormatting("nobr");
        break;
      case "button":
        if (this.inScope("button", F_SCOPE)) {
          this.impliedEnd(null);
          this.popUntil("button");
        }
        break;
    }
    const flags = _flags(name);
    if (flags & F_CLOSES_P) this.closeP();
    if (flags & F_HEADING && this.top && this.top.flags & F_HEADING) this.popFrame();
    if (!(flags & F_NO_REOPEN) && this.formatting.length > 0) this.reopenFormatting();
    const foster = !(flags & F_TABLE_ALLOWED) && this.inTableContext();
    const frame = this.insert(name, selfClosing, true, false, foster);
    if (flags & F_FORMATTING && frame.open) this.pushFormatting(name, frame);
  }

  /** Attributes of `<html>` and `<body>`: they can drop the page or make it the main content. */
  private rootElement(): void {
    if (this.rootSeen && this.tagName === "html") return;
    this.rootSeen = true;
    if (this.isRemoved("body", 1)) {
      this.dropAll = true;
      return;
    }
    this.registerCandidates("body", WHOLE, null);
    if (this.aRole === "main") this.rootLandmarks = 1;
  }

  /** Whether an element that opens here is dropped, by the extractor's rules. */
  private isRemoved(name: string, landmarks: number, flags = _flags(name)): boolean {
    if (flags & F_NEVER_TEXT || this.aHidden || this.aAriaModal === "true") return true;
    if (this.aRole !== undefined && OVERLAY_ROLE.has(this.aRole)) return true;
    if (this.aClass !== undefined || this.aId !== undefined) {
      if (isAdLike(this.aClass, this.aId) || isChromeLike(this.aClass, this.aId)) return true;
    }
    if (flags & F_CHROME) return true;
    if (this.aRole !== undefined && CHROME_ROLE.has(this.aRole)) return true;
    return (name === "header" || name === "footer") && landmarks === 0;
  }

  private registerCandidates(name: string, index: number, frame: _Frame | null): void {
    if (
      this.aId === undefined && this.aRole === undefined && this.aClass === undefined &&
      name !== "main"
    ) return;
    for (let slot = 0; slot < MAIN_CANDIDATES.length; slot++) {
      const c = MAIN_CANDIDATES[slot];
      if (!c) continue;
      const match = c.tag !== undefined
        ? name === c.tag
        : c.role !== undefined
        ? this.aRole === c.role
        : c.id !== undefined
        ? this.aId === c.id
        : c.className !== undefined && this.aClass !== undefined &&
          hasClassToken(this.aClass, c.className);
      if (!match) continue;
      if (frame) (frame.candidates ??= []).push(this.candSlot.length);
      this.candSlot.push(slot);
      this.candStart.push(index);
      this.candEnd.push(frame ? UNSET : WHOLE);
    }
  }

  /**
   * Opens an element. `withAttributes` is false for implied elements (an implied `tr`);
   * `head` marks head content, never shown.
   */
  private insert(
    name: string,
    selfClosing: boolean,
    withAttributes: boolean,
    head: boolean,
    foster = false,
  ) {
    const parent = this.top;
    let parentSkip = parent ? parent.skip : this.dropAll;
    const table = foster ? this.lastTable() : null;
    // Moved before the table, into the table's parent: that is its parent in the tree.
    const treeParent = table ? this.stack[this.stack.lastIndexOf(table) - 1] ?? null : parent;
    if (table) parentSkip = table.parentSkip;
    const landmarks = treeParent ? treeParent.landmarks : this.rootLandmarks;
    const flags = _flags(name);
    const skip = parentSkip || head ||
      (withAttributes && this.isRemoved(name, landmarks, flags)) ||
      (!withAttributes && (name === "header" || name === "footer") && landmarks === 0);
    if (name === "input" && !parentSkip && this.aType?.toLowerCase() === "email") {
      this.markSignup();
    }
    const frame = new _Frame(name, skip, flags);
    frame.parentSkip = parentSkip;
    // A table's position must follow the text before it, even when the table is dropped.
    if (name === "table") this.flush();
    frame.position = this.ops.length;
    if (!skip) {
      this.flush();
      const index = this.ops.length;
      if (table) frame.fosterAt = table.position;
      this.ops.push(OPEN | ((flags >>> KIND_SHIFT) << 2));
      this.vals.push(name);
      frame.emitted = true;
      frame.openAt = index;
      frame.charsAt = this.chars;
      if (name === "ol") this.olAttrs.set(index, [this.aStart, this.aType]);
      if (withAttributes) this.registerCandidates(name, index, frame);
      const landmark = (flags & F_CONTENT_ANCESTOR) !== 0 ||
        (withAttributes && this.aRole === "main");
      frame.landmarks = landmarks + (landmark ? 1 : 0);
      if (name === "article") {
        frame.article = this.articleStart.length;
        this.articleStart.push(index);
        this.articleEnd.push(UNSET);
      }
      if (flags & F_FORM_CONTENT) { for (const form of this.openForms) form.hasContent = true; }
      if (name === "form") {
        frame.form = { start: index, hasContent: false };
        this.openForms.push(frame.form);
      }
    }
    frame.foreign = name === "svg" || name === "math" ||
      (parent !== null && parent.foreign && !INTEGRATION_POINTS.has(parent.name));
    // Self-closing tags only close themselves inside SVG and MathML.
    if (flags & F_VOID || (selfClosing && frame.foreign)) {
      this.finish(frame);
      return frame;
    }
    if (name === "select") this.selects++;
    this.stack.push(frame);
    this.top = frame;
    frame.open = true;
    if (flags & F_MARKER) {
      frame.marker = true;
      this.formatting.push(null);
    }
    if (flags & F_RAW_SKIPPED && !frame.foreign) this.rawEnd = name;
    if (name === "pre" || name === "listing" || name === "textarea") this.dropLf = true;
    return frame;
  }

  private end(name: string): void {
    this.dropLf = false;
    if (this.rawEnd !== null) {
      if (name !== this.rawEnd) return;
      this.rawEnd = null;
      this.popUntil(name);
      return;
    }
    if (this.overflow > 0) {
      this.overflow--; // the end of a start tag ignored past the depth limit
      return;
    }
    this.flushTableText();
    this.quirks ??= true;
    if (name === "br") {
      // HTML5 reads </br> as <br>.
      this.onopentagname(0, 0);
      this.start("br", false);
      return;
    }
    if (name === "html" || name === "body" || name === "head") return;
    if (this.top?.foreign && this.endInForeignContent(name)) return;
    if (this.selects > 0 && this.endInSelect(name)) return;
    if (!this.bodyStarted) {
      this.anyOtherEnd(name);
      return;
    }
    if (name === "p") {
      if (!this.inScope("p", F_BUTTON_SCOPE)) {
        const foster = this.inTableContext();
        this.insert("p", false, false, false, foster);
      }
      this.impliedEnd("p");
      this.popUntil("p");
    } else if (name === "li") {
      if (this.inScope("li", F_LIST_SCOPE)) {
        this.impliedEnd("li");
        this.popUntil("li");
      }
    } else if (name === "dd" || name === "dt") {
      if (this.inScope(name, F_SCOPE)) {
        this.impliedEnd(name);
        this.popUntil(name);
      }
    } else if (_flags(name) & F_HEADING) {
      if (this.headingInScope()) {
        this.impliedEnd(null);
        while (this.top && !(this.top.flags & F_HEADING)) this.popFrame();
        this.popFrame();
      }
    } else if (_flags(name) & F_FORMATTING) {
      this.endFormatting(name);
    } else if (name === "form") {
      this.endForm();
    } else if (name === "template") {
      if (this.inScope("template", F_TABLE_SCOPE)) this.popUntil("template");
    } else if (
      name === "td" || name === "th" || name === "tr" || TABLE_BODY.has(name) ||
      name === "table" || name === "caption" || name === "colgroup"
    ) {
      if (this.inScope(name, F_TABLE_SCOPE)) {
        this.impliedEnd(null);
        this.popUntil(name);
      }
    } else if (_flags(name) & F_BLOCK_END) {
      if (this.inScope(name, F_SCOPE)) {
        this.impliedEnd(null);
        this.popUntil(name);
      }
    } else {
      this.anyOtherEnd(name);
    }
  }

  /** True when the current element is SVG or MathML (not a point where HTML resumes). */
  private inForeignContent(): boolean {
    const top = this.top;
    return top !== null && top.foreign && !INTEGRATION_POINTS.has(top.name);
  }

  /** An HTML tag inside SVG or MathML closes the foreign elements first. */
  private leaveForeignContent(): void {
    while (this.inForeignContent()) this.popFrame();
  }

  /**
   * An end tag while the current element is SVG or MathML: it closes the nearest foreign
   * element of that name; reaching an HTML element, the HTML rules decide (returns false).
   */
  private endInForeignContent(name: string): boolean {
    if (name === "br" || name === "p") {
      this.leaveForeignContent();
      return false;
    }
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (!frame.foreign) return false;
      if (frame.name === name) {
        while (this.stack.length > i) this.popFrame();
        return true;
      }
    }
    return true;
  }

  /**
   * A start tag inside `<select>`: options nest, another select or a form control ends
   * it, anything else is ignored. Returns false when the tag must be read again outside.
   */
  private startInSelect(name: string, selfClosing: boolean): boolean {
    switch (name) {
      case "option":
        if (this.top?.name === "option") this.popFrame();
        this.insert(name, selfClosing, true, false);
        return true;
      case "optgroup":
        if (this.top?.name === "option") this.popFrame();
        if (this.top?.name === "optgroup") this.popFrame();
        this.insert(name, selfClosing, true, false);
        return true;
      case "select":
        this.popUntil("select");
        return true;
      case "input":
      case "keygen":
      case "textarea":
        this.popUntil("select");
        return false;
      case "script":
      case "template":
        this.insert(name, selfClosing, true, false);
        return true;
    }
    if (TABLE_TAGS.has(name) && this.inScope("table", F_TABLE_SCOPE)) {
      this.popUntil("select");
      return false;
    }
    return true;
  }

  /** An end tag inside `<select>`; returns false when the HTML rules must read it too. */
  private endInSelect(name: string): boolean {
    switch (name) {
      case "optgroup": {
        const below = this.stack[this.stack.length - 2];
        if (this.top?.name === "option" && below?.name === "optgroup") this.popFrame();
        if (this.top?.name === "optgroup") this.popFrame();
        return true;
      }
      case "option":
        if (this.top?.name === "option") this.popFrame();
        return true;
      case "select":
        this.popUntil("select");
        return true;
      case "script":
      case "template":
        this.anyOtherEnd(name);
        return true;
    }
    if (TABLE_TAGS.has(name) && this.inScope(name, F_TABLE_SCOPE)) {
      this.popUntil("select");
      return false;
    }
    return true;
  }

  /** HTML5 "any other end tag": close the nearest open one, unless a special element is in the way. */
  private anyOtherEnd(name: string): void {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (frame.name === name) {
        while (this.stack.length > i) this.popFrame();
        return;
      }
      if (frame.flags & F_SPECIAL) return;
    }
  }

  /** `</form>` closes the form element even when elements opened inside it are still open. */
  private endForm(): void {
    const node = this.formPointer;
    this.formPointer = null;
    if (node === null || node === "detached") return;
    let at = -1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (frame === node) {
        at = i;
        break;
      }
      if (frame.flags & F_SCOPE) return;
    }
    if (at < 0) return;
    this.impliedEnd(null);
    this.leaveStack(node);
  }

  private closeP(): void {
    if (!this.inScope("p", F_BUTTON_SCOPE)) return;
    this.impliedEnd("p");
    this.popUntil("p");
  }

  /** A link cannot hold another: HTML5 ends the open `<a>` first (and forgets it). */
  private closeOpenLink(): void {
    const entry = this.lastFormatting("a");
    if (!entry) return;
    this.endFormatting("a");
    const at = this.formatting.indexOf(entry);
    if (at >= 0) this.formatting.splice(at, 1);
    if (entry.frame.open) this.leaveStack(entry.frame);
  }

  /** The latest formatting entry called `name` in the current scope. */
  private lastFormatting(name: string): _Formatting | null {
    for (let i = this.formatting.length - 1; i >= 0; i--) {
      const entry = this.formatting[i];
      if (!entry) return null;
      if (entry.name === name) return entry;
    }
    return null;
  }

  /** Records a formatting element; like HTML5, at most three identical ones are kept. */
  private pushFormatting(name: string, frame: _Frame): void {
    const attrs = this.snapshot();
    let same = 0;
    let earliest = -1;
    for (let i = this.formatting.length - 1; i >= 0; i--) {
      const entry = this.formatting[i];
      if (!entry) break;
      if (entry.name === name && _sameAttrs(entry.attrs, attrs)) {
        same++;
        earliest = i;
      }
    }
    if (same >= 3) this.formatting.splice(earliest, 1);
    this.formatting.push({ name, attrs, frame });
  }

  /**
   * Re-opens formatting elements that a block end closed (`<p><b>x</p><p>y` puts y in a
   * new `<b>` with the same attributes), as HTML5 does before text and inline elements.
   */
  private reopenFormatting(): void {
    const list = this.formatting;
    const last = list[list.length - 1];
    if (!last || last.frame.open) return;
    let i = list.length - 1;
    while (i > 0) {
      const previous = list[i - 1];
      if (!previous || previous.frame.open) break;
      i--;
    }
    const saved = this.snapshot();
    for (; i < list.length; i++) {
      const entry = list[i] as _Formatting;
      this.load(entry.attrs);
      entry.frame = this.insert(entry.name, false, true, false, this.inTableContext());
    }
    this.load(saved);
  }

  /**
   * The end tag of a formatting element (HTML5's adoption agency, simplified): it closes
   * the element with what opened inside it, unless a block opened inside it is still open;
   * then it is only forgotten (HTML5 would move that block out of it).
   */
  private endFormatting(name: string): void {
    const top = this.top;
    if (top && top.name === name && !this.formatting.some((e) => e?.frame === top)) {
      this.popFrame();
      return;
    }
    const entry = this.lastFormatting(name);
    if (!entry) {
      this.anyOtherEnd(name);
      return;
    }
    const element = entry.frame;
    const forget = () => {
      const at = this.formatting.indexOf(entry);
      if (at >= 0) this.formatting.splice(at, 1);
    };
    if (!element.open) return forget();
    const at = this.stack.lastIndexOf(element);
    for (let i = this.stack.length - 1; i > at; i--) {
      if ((this.stack[i] as _Frame).flags & F_SCOPE) return; // not in scope: ignored
    }
    for (let i = at + 1; i < this.stack.length; i++) {
      if ((this.stack[i] as _Frame).flags & F_SPECIAL) return forget();
    }
    while (this.stack.length > at) this.popFrame();
    forget();
  }

  /** The current tag's attributes. */
  private snapshot(): _Attrs {
    return {
      cls: this.aClass,
      id: this.aId,
      role: this.aRole,
      hidden: this.aHidden,
      ariaHidden: this.aAriaHidden,
      start: this.aStart,
      type: this.aType,
    };
  }

  private load(attrs: _Attrs): void {
    this.aClass = attrs.cls;
    this.aId = attrs.id;
    this.aRole = attrs.role;
    this.aHidden = attrs.hidden;
    this.aAriaHidden = attrs.ariaHidden;
    this.aStart = attrs.start;
    this.aType = attrs.type;
  }

  /**
   * Takes an element off the stack while elements opened inside it stay open: it ends,
   * in the tree, when the element above it ends.
   */
  private leaveStack(frame: _Frame): void {
    const at = this.stack.lastIndexOf(frame);
    if (at < 0) return;
    if (at === this.stack.length - 1) {
      this.popFrame();
      return;
    }
    this.stack.splice(at, 1);
    const above = this.stack[at] as _Frame;
    frame.after = above.after;
    above.after = frame;
  }

  /** Before `<li>` (or `<dd>`/`<dt>`): close an open item unless a special element is in the way. */
  private closeListItem(names: string[]): void {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (names.includes(frame.name)) {
        this.impliedEnd(frame.name);
        this.popUntil(frame.name);
        return;
      }
      if (
        frame.flags & F_SPECIAL && frame.name !== "address" && frame.name !== "div" &&
        frame.name !== "p"
      ) return;
    }
  }

  /** Closes an open table cell or caption before a new row, cell or section. */
  private closeCell(): void {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const name = (this.stack[i] as _Frame).name;
      if (name === "td" || name === "th" || name === "caption") {
        this.impliedEnd(null);
        this.popUntil(name);
        return;
      }
      if ((this.stack[i] as _Frame).flags & F_TABLE_SCOPE) return;
    }
  }

  /** The table part the parser is in (by the nearest table element), or "body". */
  private tableMode(): string {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const name = (this.stack[i] as _Frame).name;
      if (name === "td" || name === "th" || name === "caption") return "cell";
      if (name === "tr" || name === "table") return name;
      if (TABLE_BODY.has(name)) return "tbody";
      if (name === "template") return "body";
    }
    return "body";
  }

  private popToCurrent(name: string): void {
    while (this.top && this.top.name !== name) this.popFrame();
  }

  private popToTableBody(): void {
    while (this.top && this.top.name !== "table" && !TABLE_BODY.has(this.top.name)) {
      this.popFrame();
    }
  }

  private impliedEnd(except: string | null): void {
    while (this.top && this.top.flags & F_IMPLIED_END && this.top.name !== except) {
      this.popFrame();
    }
  }

  /** Whether an element called `name` is open above the nearest `scope` boundary. */
  private inScope(name: string, scope: number): boolean {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (frame.name === name) return true;
      if (frame.flags & scope) return false;
    }
    return false;
  }

  private headingInScope(): boolean {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const flags = (this.stack[i] as _Frame).flags;
      if (flags & F_HEADING) return true;
      if (flags & F_SCOPE) return false;
    }
    return false;
  }

  /** Pops until an element called `name` has been popped (it must be open). */
  private popUntil(name: string): void {
    while (this.stack.length > 0) {
      if (this.popFrame().name === name) return;
    }
  }

  private popFrame(): _Frame {
    const frame = this.stack.pop() as _Frame;
    this.top = this.stack[this.stack.length - 1] ?? null;
    this.finish(frame);
    return frame;
  }

  /** An element ended: emit its CLOSE, or drop a form that held no content. */
  private finish(frame: _Frame): void {
    frame.open = false;
    if (frame.marker) {
      // Formatting elements opened in a cell or object are not re-opened after it.
      while (this.formatting.length > 0 && this.formatting.pop() !== null) { /* drop */ }
    }
    if (frame.name === "select" && !VOID.has(frame.name)) this.selects--;
    if (frame.emitted) {
      const form = frame.form;
      if (form) this.openForms.splice(this.openForms.indexOf(form), 1);
      if (form && !form.hasContent) {
        this.rollback(form.start, frame.charsAt);
        // Its e-mail field still tells that what holds the form may be a sign-up panel.
        if (frame.signup && this.top?.emitted) this.top.signup = true;
      } else {
        this.flush();
        const index = this.ops.length;
        this.ops.push(CLOSE);
        this.vals.push("");
        if (frame.signup) this.finishSignup(frame, index);
        if (frame.candidates) { for (const entry of frame.candidates) this.candEnd[entry] = index; }
        if (frame.article >= 0) this.articleEnd[frame.article] = index;
        if (frame.fosterAt >= 0) {
          this.segments.push({ at: frame.fosterAt, from: frame.position, to: index });
        }
      }
    }
    const after = frame.after;
    if (after) this.finish(after);
  }

  /**
   * An `<input type="email">` opens: its nearest kept element (other than its form) may be
   * the start of a sign-up panel ({@link SIGNUP_MAX_CHARS}).
   */
  private markSignup(): void {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i] as _Frame;
      if (!frame.emitted) return;
      if (frame.name === "form") continue;
      frame.signup = true;
      return;
    }
  }

  /**
   * A sign-up element ended at event `close`: while short, the panel may go on in its
   * parent; once an element is long, the short ones inside it are the panels and are
   * removed (their events, tags included, become empty text: indices stay valid).
   */
  private finishSignup(frame: _Frame, close: number): void {
    const parent = this.top;
    if (this.chars - frame.charsAt <= SIGNUP_MAX_CHARS) {
      // A short element right under the body is the page itself: never emptied.
      if (parent && parent.emitted) {
        parent.signup = true;
        (parent.signupRanges ??= []).push(frame.openAt, close);
      }
      return;
    }
    const ranges = frame.signupRanges;
    if (!ranges) return;
    const { ops, vals } = this;
    for (let r = 0; r < ranges.length; r += 2) {
      const to = ranges[r + 1] ?? 0;
      for (let i = ranges[r] ?? 0; i <= to; i++) {
        ops[i] = TEXT;
        vals[i] = "";
      }
    }
  }

  /** Forgets everything from event `start` on (a form without content). */
  private rollback(start: number, charsAt: number): void {
    this.pending = "";
    this.chars = charsAt;
    let end = start;
    // Text before and after the dropped form joins into one text node, as in the DOM.
    if (end > 0 && this.ops[end - 1] === TEXT) {
      end--;
      this.pending = this.vals[end] ?? "";
      this.chars -= this.pending.trim().length;
    }
    this.ops.length = end;
    this.vals.length = end;
    while ((this.candStart[this.candStart.length - 1] ?? -1) >= start) {
      this.candSlot.pop();
      this.candStart.pop();
      this.candEnd.pop();
    }
    while ((this.articleStart[this.articleStart.length - 1] ?? -1) >= start) {
      this.articleStart.pop();
      this.articleEnd.pop();
    }
    if (this.segments.length > 0) this.segments = this.segments.filter((s) => s.from < start);
  }
}

/**
 * Moves content read inside tables (outside cells) to just before its table, as HTML5's
 * foster parenting places it, and renumbers the recorded element positions.
 */
function _placeFosteredContent(parser: _StreamParser): void {
  const { ops, vals } = parser;
  const byAt = new Map<number, _Segment[]>();
  const byFrom = new Map<number, _Segment>();
  for (const segment of parser.segments) {
    const list = byAt.get(segment.at);
    if (list) list.push(segment);
    else byAt.set(segment.at, [segment]);
    byFrom.set(segment.from, segment);
  }
  for (const list of byAt.values()) list.sort((a, b) => a.from - b.from);
  const newOps: number[] = [];
  const newVals: string[] = [];
  const moved = new Int32Array(ops.length);
  const done = new Set<_Segment>();
  const emit = (from: number, to: number, self: _Segment | null): void => {
    for (let i = from; i <= to; i++) {
      const before = self !== null && i === from ? undefined : byAt.get(i);
      if (before) {
        for (const segment of before) {
          if (done.has(segment)) continue;
          done.add(segment);
          emit(segment.from, segment.to, segment);
        }
      }
      const segment = byFrom.get(i);
      if (segment && segment !== self) {
        i = segment.to; // placed before its table
        continue;
      }
      const op = ops[i] ?? CLOSE;
      const last = newOps.length - 1;
      if (op === TEXT && newOps[last] === TEXT) {
        // Text moved next to text joins it, as in the DOM (one list item, not two).
        moved[i] = last;
        newVals[last] += vals[i] ?? "";
        continue;
      }
      moved[i] = newOps.length;
      newOps.push(op);
      newVals.push(vals[i] ?? "");
    }
  };
  emit(0, ops.length - 1, null);
  const renumber = (index: number) => (index >= 0 ? moved[index] ?? index : index);
  for (let entry = 0; entry < parser.candStart.length; entry++) {
    parser.candStart[entry] = renumber(parser.candStart[entry] ?? UNSET);
    parser.candEnd[entry] = renumber(parser.candEnd[entry] ?? UNSET);
  }
  for (let i = 0; i < parser.articleStart.length; i++) {
    parser.articleStart[i] = renumber(parser.articleStart[i] ?? 0);
    parser.articleEnd[i] = renumber(parser.articleEnd[i] ?? 0);
  }
  const olAttrs = [...parser.olAttrs];
  parser.olAttrs.clear();
  for (const [index, attrs] of olAttrs) parser.olAttrs.set(renumber(index), attrs);
  ops.length = 0;
  vals.length = 0;
  for (let i = 0; i < newOps.length; i++) {
    ops.push(newOps[i] ?? CLOSE);
    vals.push(newVals[i] ?? "");
  }
}

function _sameAttrs(a: _Attrs, b: _Attrs): boolean {
  return a.cls === b.cls && a.id === b.id && a.role === b.role && a.hidden === b.hidden &&
    a.ariaHidden === b.ariaHidden && a.start === b.start && a.type === b.type;
}

/** Roman numerals and letters for `<ol type>`, as html-to-text writes them. */
function _olIndex(type: string | undefined, n: number): string {
  switch (type) {
    case "a":
      return _letters(n, 97);
    case "A":
      return _letters(n, 65);
    case "i":
      return _roman(n).toLowerCase();
    case "I":
      return _roman(n);
    default:
      return String(n);
  }
}

function _letters(num: number, base: number): string {
  const digits: number[] = [];
  do {
    num -= 1;
    digits.push(num % 26);
    num = (num / 26) >> 0;
  } while (num > 0);
  return digits.reverse().map((d) => String.fromCharCode(base + d)).join("");
}

const _I = ["I", "X", "C", "M"];
const _V = ["V", "L", "D"];
function _roman(num: number): string {
  return [...String(num)]
    .map((n) => +n)
    .reverse()
    .map((v, i) =>
      v % 5 < 4
        ? (v < 5 ? "" : _V[i] ?? "") + (_I[i] ?? "").repeat(v % 5)
        : (_I[i] ?? "") + (v < 5 ? _V[i] ?? "" : _I[i + 1] ?? "")
    )
    .reverse()
    .join("");
}

function _quote(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 10) start++;
  while (end > start && text.charCodeAt(end - 1) === 10) end--;
  return text.slice(start, end).split("\n").map((line) => `> ${line}`).join("\n");
}

/** A flat list of layout events: what {@link _render} lays out. */
interface _Events {
  readonly ops: number[];
  readonly vals: string[];
  /** `start` and `type` of each `<ol>`, by OPEN index. */
  readonly olAttrs: Map<number, [string | undefined, string | undefined]>;
}

/** A DOM node as the selector path hands it over (domhandler's shape, as cheerio builds it). */
export interface LayoutNode {
  type: string;
  name?: string;
  data?: string;
  attribs?: Record<string, string>;
  children?: LayoutNode[];
}

/**
 * Lays out DOM elements (the selector path's matches) with the same engine as the
 * streaming path: the tree is walked without recursion into the streaming path's events,
 * then rendered by {@link _render}, so both paths share one layout.
 * @example
 * renderNodes($("main").toArray());
 */
export function renderNodes(roots: readonly LayoutNode[]): string {
  const events: _Events = { ops: [], vals: [], olAttrs: new Map() };
  const { ops, vals } = events;
  // Work list of nodes still to visit; null closes the element opened before its children.
  const work: Array<LayoutNode | null> = [];
  const parents: string[] = [];
  for (let r = roots.length - 1; r >= 0; r--) work.push(roots[r] as LayoutNode);
  while (work.length > 0) {
    const node = work.pop();
    if (node === null) {
      ops.push(CLOSE);
      vals.push("");
      parents.pop();
      continue;
    }
    if (!node) continue;
    if (node.type === "text") {
      const text = node.data ?? "";
      if (text === "") continue;
      const last = ops.length - 1;
      if (ops[last] === TEXT) vals[last] += text;
      else {
        ops.push(TEXT);
        vals.push(text);
      }
      continue;
    }
    if (node.type === "comment") {
      const parent = parents[parents.length - 1];
      if (parent === "ul" || parent === "ol") {
        ops.push(COMMENT);
        vals.push("");
      }
      continue;
    }
    if (node.type !== "tag" && node.type !== "script" && node.type !== "style") continue;
    const name = (node.name ?? "").toLowerCase();
    const index = ops.length;
    ops.push(OPEN | ((_flags(name) >>> KIND_SHIFT) << 2));
    vals.push(name);
    if (name === "ol") events.olAttrs.set(index, [node.attribs?.start, node.attribs?.type]);
    parents.push(name);
    work.push(null);
    const children = node.children ?? [];
    for (let c = children.length - 1; c >= 0; c--) work.push(children[c] as LayoutNode);
  }
  if (ops.length === 0) return "";
  return _render(events, 0, ops.length - 1);
}

/** Lays out the events `from`..`to` (one element, or the whole body). */
function _render(parser: _Events, from: number, to: number): string {
  const { ops, vals } = parser;
  const b = new HtmlTextBuilder();
  // Per open element (index 0 is the fragment root): kind, has an element child yet,
  // opened a list item, and for lists: opened, nested, next number, type.
  const kinds: number[] = [K_INLINE];
  const hasChild: boolean[] = [false];
  const isItem: boolean[] = [false];
  const listOpen: boolean[] = [false];
  const listNested: boolean[] = [false];
  const listNext: number[] = [0];
  const listType: (string | undefined)[] = [undefined];
  let depth = 0;

  const openItem = (prefix: string) => {
    if (!listOpen[depth]) {
      b.openList(listNested[depth] ? 1 : 2);
      listOpen[depth] = true;
    }
    b.openListItem(prefix);
  };
  const nextPrefix = (): string => {
    const nested = listNested[depth] ?? false;
    if (kinds[depth] === K_UL) return nested ? "* " : " * ";
    const n = listNext[depth] ?? 1;
    listNext[depth] = n + 1;
    const prefix = ` ${_olIndex(listType[depth], n)}. `;
    return nested ? prefix.trimStart() : prefix;
  };

  for (let i = from; i <= to; i++) {
    const op = ops[i] ?? CLOSE;
    const type = op & 3;
    const parentKind = kinds[depth];
    const inList = parentKind === K_UL || parentKind === K_OL;
    if (type === TEXT) {
      const text = vals[i] ?? "";
      if (!inList) b.addInline(text);
      else if (NON_BLANK.test(text)) {
        openItem("");
        b.addInline(text);
        b.closeListItem();
      }
      continue;
    }
    if (type === COMMENT) {
      if (inList) {
        openItem("");
        b.closeListItem();
      }
      continue;
    }
    if (type === OPEN) {
      const kind = op >> 2;
      if (inList) openItem(kind === K_LI ? nextPrefix() : "");
      const previousSibling = hasChild[depth] ?? false;
      hasChild[depth] = true;
      depth++;
      kinds[depth] = kind;
      hasChild[depth] = false;
      isItem[depth] = inList;
      switch (kind) {
        case K_BLOCK1:
          b.openBlock(1);
          break;
        case K_BLOCK2:
          b.openBlock(2);
          break;
        case K_PRE:
          b.openBlock(2, true);
          break;
        case K_QUOTE:
          b.openBlock(2);
          break;
        case K_HEADING: {
          b.openBlock(2);
          const level = Number((vals[i] ?? "").slice(1)) || 1;
          b.addInline(`${"#".repeat(level)} `);
          break;
        }
        case K_HR:
          b.openBlock(2);
          b.addInline("-".repeat(40));
          b.closeBlock(2);
          break;
        case K_BR:
          b.addLineBreak();
          break;
        case K_UL:
        case K_OL: {
          listOpen[depth] = false;
          listNested[depth] = parentKind === K_LI;
          const [start, olType] = kind === K_OL ? parser.olAttrs.get(i) ?? [] : [];
          listNext[depth] = Number(start || "1");
          listType[depth] = olType;
          break;
        }
        case K_CELL:
          if (previousSibling) b.addInline(" | ");
          break;
      }
      continue;
    }
    // CLOSE
    const kind = kinds[depth];
    const item = isItem[depth];
    switch (kind) {
      case K_BLOCK1:
        b.closeBlock(1);
        break;
      case K_BLOCK2:
      case K_PRE:
      case K_HEADING:
        b.closeBlock(2);
        break;
      case K_QUOTE:
        b.closeBlock(2, _quote);
        break;
      case K_UL:
      case K_OL:
        if (listOpen[depth]) b.closeList(listNested[depth] ? 1 : 2);
        break;
    }
    depth--;
    if (item) b.closeListItem();
  }
  return b.toString();
}

/** Characters of the text of events `from`..`to`, each text trimmed. */
function _textLength(parser: _StreamParser, from: number, to: number): number {
  const { ops, vals } = parser;
  let length = 0;
  for (let i = from; i <= to; i++) {
    if (ops[i] !== TEXT) continue;
    // Trimmed lengths: whitespace between tags counts nothing, a share of text is the same.
    length += (vals[i] ?? "").trim().length;
  }
  return length;
}

/** Reads a page into the event list. */
function _parse(html: string): _StreamParser {
  // HTML5 input preprocessing: one kind of line break.
  if (html.includes("\r")) html = html.replace(/\r\n?/g, "\n");
  const parser = new _StreamParser(html, html.includes("\0"));
  const tokenizer = new FastTokenizer({ decodeEntities: true }, parser);
  tokenizer.write(html);
  tokenizer.end();
  return parser;
}

/**
 * True when the page opens elements more than {@link MAX_HTML_DEPTH} deep (by HTML5's
 * tree rules), which no browser renders as such and which would make a DOM parser's
 * work quadratic and recursive renderers overflow their stack.
 * @example
 * nestsTooDeep("<div>".repeat(10_000)); // true
 */
export function nestsTooDeep(html: string): boolean {
  return _parse(html).tooDeep;
}

/**
 * Extracts the readable text of an HTML page without a DOM, as the cheerio path does
 * without a selector: the page's main content (first of `main`, `[role=main]`,
 * `#main-content`, `#content`, `#main`, `.main-content` that has text, else its only
 * `article`, else the body), without scripts, chrome, forms that hold no content and
 * adverts; headings `#`-prefixed, one line per list item and table row, cells joined by
 * ` | `, no link targets, no wrapping.
 * @example
 * extractHtmlTextStreaming("<nav>Menu</nav><main><h1>Fees</h1><p>£719</p></main>");
 * // "# Fees\n\n£719"
 */
export function extractHtmlTextStreaming(html: string): string {
  return extractHtmlContentStreaming(html).text;
}

/** The text of a page and which element it is (for the run's per-source explanation). */
export interface HtmlContent {
  text: string;
  /** How the content was found, e.g. `<main>`, `the only <article> of #content`, `<body>`. */
  foundBy: string;
}

/** Names a main-content candidate as an operator would write it. */
function _candidateName(slot: number): string {
  const c = MAIN_CANDIDATES[slot];
  return c?.tag ? `<${c.tag}>` : c?.selector ?? "main content";
}

/**
 * The default path of a page without a CSS selector: {@link extractHtmlContentStreaming}, a
 * throw of it classified `internal` (the tokenizer reads any input: a throw is a bug of
 * ours, not a bad page).
 * @example
 * extractDefaultHtmlContent("<main><p>x</p></main>"); // { text: "x", foundBy: "<main>" }
 */
export function extractDefaultHtmlContent(html: string): HtmlContent {
  try {
    return extractHtmlContentStreaming(html);
  } catch (error) {
    const detail = errorMessage(error);
    throw new PipelineError("internal", `cannot extract HTML text: ${detail}`, { cause: error });
  }
}

/**
 * {@link extractHtmlTextStreaming}, also saying which element was taken as the content.
 * @example
 * extractHtmlContentStreaming("<main><p>x</p></main>").foundBy; // "<main>"
 */
export function extractHtmlContentStreaming(html: string): HtmlContent {
  const parser = _parse(html);
  if (parser.segments.length > 0) _placeFosteredContent(parser);
  const last = parser.ops.length - 1;
  if (last < 0) return { text: "", foundBy: "<body>" };
  const { candSlot, candStart, candEnd } = parser;
  let pageText = -1;
  for (let slot = 0; slot < MAIN_CANDIDATES.length; slot++) {
    // The first element in document order that matches the candidate.
    let first = -1;
    for (let entry = 0; entry < candSlot.length; entry++) {
      if (candSlot[entry] !== slot) continue;
      if (first < 0 || (candStart[entry] ?? 0) < (candStart[first] ?? 0)) first = entry;
    }
    if (first < 0) continue;
    const start = candStart[first] ?? UNSET;
    const from = start === WHOLE ? parser.bodyStart : start;
    const to = start === WHOLE ? last : candEnd[first] ?? last;
    const length = _textLength(parser, from, to);
    if (length === 0) continue;
    if (pageText < 0) pageText = _textLength(parser, parser.bodyStart, last);
    if (holdsMainShare(length, pageText)) {
      // Its only article, when the article is most of it.
      let article = -1;
      for (let i = 0; i < parser.articleStart.length; i++) {
        const start = parser.articleStart[i] ?? 0;
        if (start < from || start > to) continue;
        if (article >= 0) {
          article = -2;
          break;
        }
        article = i;
      }
      if (article >= 0) {
        const aFrom = parser.articleStart[article] ?? from;
        const aTo = parser.articleEnd[article] ?? to;
        if (articleIsContent(_textLength(parser, aFrom, aTo), length)) {
          return {
            text: _render(parser, aFrom, aTo),
            foundBy: `the only <article> of ${_candidateName(slot)}`,
          };
        }
      }
      return { text: _render(parser, from, to), foundBy: _candidateName(slot) };
    }
  }
  if (parser.articleStart.length === 1) {
    return {
      text: _render(parser, parser.articleStart[0] ?? 0, parser.articleEnd[0] ?? last),
      foundBy: "the only <article>",
    };
  }
  return { text: _render(parser, parser.bodyStart, last), foundBy: "<body>" };
}
