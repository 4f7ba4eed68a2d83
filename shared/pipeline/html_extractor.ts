/**
 * HTML to readable text. cheerio (parse5) parses the page and removes what is not
 * content; html-to-text renders what is left, keeping headings, paragraphs, list items
 * and table rows on lines of their own so diffs read well.
 *
 * What is dropped: never-visible or non-text elements (script, style, noscript, template,
 * iframe, svg, form controls, `hidden`), adverts (ad-like class or id names), and, unless
 * the source gives its own CSS selector, the page chrome: nav, aside, page-level header
 * and footer (those not inside article/main/section), ARIA banner/navigation/contentinfo/
 * complementary/search landmarks, cookie banners and forms that hold no content. Link
 * targets and image sources are never part of the text, so rotating query strings and
 * session tokens in links cannot cause a change.
 * @module
 */
import * as cheerio from "cheerio";
import { compile } from "html-to-text";
import { PipelineError } from "./errors.ts";

/** Options of {@link extractHtmlText}. */
export interface HtmlExtractOptions {
  /** The source's CSS selector; when given, only the matching elements are kept. */
  selector?: string | null;
}

const NEVER_TEXT = [
  "script",
  "style",
  "noscript",
  "template",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "svg",
  "canvas",
  "audio",
  "video",
  "map",
  "dialog",
  "button",
  "input",
  "select",
  "textarea",
  "[hidden]",
  '[aria-hidden="true"]',
  "ins.adsbygoogle",
].join(",");

const CHROME = [
  "nav",
  "aside",
  '[role="navigation"]',
  '[role="banner"]',
  '[role="contentinfo"]',
  '[role="complementary"]',
  '[role="search"]',
].join(",");

/** Class or id tokens that mark adverts and consent banners (split on - and _). */
const AD_TOKEN =
  /^(ad|ads|adv|advert|adverts|advertisement|advertising|adslot|adunit|adbox|adbanner|adcontainer|adsense|adsbygoogle|dfp|gpt|sponsor|sponsored|promoted|doubleclick|taboola|outbrain)$/i;
const BANNER = /(^|[-_\s])cookie(s)?[-_]?(banner|consent|notice|bar|message|policy-banner)/i;

/** Where the main content usually is, in order of trust. */
const MAIN_CANDIDATES = [
  "main",
  '[role="main"]',
  "#main-content",
  "#content",
  "#main",
  ".main-content",
];

/** The parts of html-to-text's formatter API used here (the package ships no types). */
interface _HtmlNode {
  type: string;
  name?: string;
  children: _HtmlNode[];
  prev: _HtmlNode | null;
}
interface _Builder {
  openBlock(options: { leadingLineBreaks: number }): void;
  closeBlock(options: { trailingLineBreaks: number }): void;
  addInline(text: string, options?: { noWordTransform: boolean }): void;
}
type _Walk = (nodes: _HtmlNode[], builder: _Builder) => void;

/** A DOM node as cheerio hands it to filter callbacks. */
type _DomNode = { attribs?: Record<string, string> };
/** A cheerio selection of elements. */
type _Selection = ReturnType<typeof _select>;
function _select($: cheerio.CheerioAPI, selector: string) {
  return $(selector);
}

const _render: (html: string) => string = compile({
  wordwrap: false,
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER },
  formatters: {
    heading(elem: _HtmlNode, walk: _Walk, builder: _Builder) {
      const level = Number(elem.name?.slice(1)) || 1;
      builder.openBlock({ leadingLineBreaks: 2 });
      builder.addInline(`${"#".repeat(level)} `, { noWordTransform: true });
      walk(elem.children, builder);
      builder.closeBlock({ trailingLineBreaks: 2 });
    },
    tableRow(elem: _HtmlNode, walk: _Walk, builder: _Builder) {
      builder.openBlock({ leadingLineBreaks: 1 });
      walk(elem.children, builder);
      builder.closeBlock({ trailingLineBreaks: 1 });
    },
    tableCell(elem: _HtmlNode, walk: _Walk, builder: _Builder) {
      let previous = elem.prev;
      while (previous && previous.type !== "tag") previous = previous.prev;
      if (previous) builder.addInline(" | ", { noWordTransform: true });
      walk(elem.children, builder);
    },
  },
  selectors: [
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
    { selector: "table", format: "block" },
    { selector: "tr", format: "tableRow" },
    { selector: "td", format: "tableCell" },
    { selector: "th", format: "tableCell" },
    { selector: "caption", format: "block" },
    { selector: "h1", format: "heading" },
    { selector: "h2", format: "heading" },
    { selector: "h3", format: "heading" },
    { selector: "h4", format: "heading" },
    { selector: "h5", format: "heading" },
    { selector: "h6", format: "heading" },
    { selector: "dt", format: "block" },
    { selector: "dd", format: "block" },
  ],
});

/** True when an element's class or id looks like an advert or a cookie banner. */
function _isAdLike(element: _DomNode): boolean {
  const names = `${element.attribs?.class ?? ""} ${element.attribs?.id ?? ""}`;
  if (!names.trim()) return false;
  if (BANNER.test(names)) return true;
  for (const name of names.split(/\s+/)) {
    if (!name) continue;
    if (AD_TOKEN.test(name)) return true;
    const parts = name.split(/[-_]/);
    // "ad-slot", "ad_banner", "top-ad", "adunit-3": a part that is exactly an ad word.
    if (parts.length > 1 && parts.some((part) => AD_TOKEN.test(part))) return true;
  }
  return false;
}

/** True when a header/footer belongs to the page (not to an article or section). */
function _isPageLevel($: cheerio.CheerioAPI, element: Parameters<cheerio.CheerioAPI>[0]): boolean {
  return $(element).parents("article, main, section, aside, nav, [role=main]").length === 0;
}

/** Removes what is never content and, when `chrome`, the page's own navigation and frame. */
function _clean($: cheerio.CheerioAPI, chrome: boolean): void {
  $(NEVER_TEXT).remove();
  $("[class], [id]").filter((_, el) => _isAdLike(el)).remove();
  if (!chrome) return;
  $(CHROME).remove();
  $("header, footer").filter((_, el) => _isPageLevel($, el)).remove();
  // ASP.NET-style pages wrap the whole body in one <form>: keep forms that hold content.
  $("form").filter((_, el) => $(el).find("main, article, h1, h2, p").length === 0).remove();
}

/** The elements to render: the source's selector, else the page's main content, else body. */
function _roots($: cheerio.CheerioAPI, selector: string | null | undefined): _Selection {
  if (selector) {
    let matched: _Selection;
    try {
      matched = _select($, selector);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new PipelineError(
        "parse",
        `invalid CSS selector ${JSON.stringify(selector)}: ${detail}`,
        {
          cause: error,
        },
      );
    }
    if (matched.length === 0) {
      throw new PipelineError("parse", `CSS selector ${JSON.stringify(selector)} matched nothing`);
    }
    // Nested matches would be rendered twice: keep the outermost ones.
    return matched.filter((_, el) => $(el).parents().filter((_, p) => matched.is(p)).length === 0);
  }
  for (const candidate of MAIN_CANDIDATES) {
    const found = $(candidate).first();
    if (found.length > 0 && found.text().trim().length > 0) return found;
  }
  const articles = $("article");
  if (articles.length === 1) return articles;
  return $("body"); // parse5 always builds html, head and body
}

/**
 * Extracts the readable text of an HTML page.
 * @example
 * extractHtmlText("<main><h1>Fees</h1><p>£719</p></main>"); // "# Fees\n\n£719"
 */
export function extractHtmlText(html: string, options: HtmlExtractOptions = {}): string {
  let $: cheerio.CheerioAPI;
  try {
    $ = cheerio.load(html);
  } catch (error) {
    throw new PipelineError(
      "parse",
      `cannot parse HTML: ${error instanceof Error ? error.message : error}`,
      {
        cause: error,
      },
    );
  }
  const selector = options.selector?.trim() || null;
  _clean($, !selector);
  const roots = _roots($, selector);
  return roots.toArray().map((root) => _render($.html(root))).join("\n\n");
}
