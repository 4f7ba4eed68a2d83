/**
 * HTML to readable text, on two paths that give the same text with one layout engine.
 *
 * Without a CSS selector (most sources), {@link extractHtmlTextStreaming} reads the page
 * in one pass with htmlparser2's tokenizer and no DOM, several times faster than a DOM.
 * With the source's CSS selector, cheerio (parse5) parses the page and cheerio-select
 * finds the elements, which are laid out by the streaming path's renderer
 * (`renderNodes`): headings, paragraphs, list items and table rows on lines of their own
 * so diffs read well. {@link extractHtmlTextWithCheerio} is that path, also without a
 * selector: the reference the streaming path's tree building is tested against.
 *
 * What is dropped: never-visible or non-text elements (script, style, noscript, template,
 * iframe, svg, form controls, `hidden`), adverts (ad-like class or id names), and, unless
 * the source gives its own CSS selector, the page chrome: nav, aside, page-level header
 * and footer (those not inside article/main/section), ARIA banner/navigation/contentinfo/
 * complementary/search landmarks, cookie banners and forms that hold no content. Link
 * targets and image sources are never part of the text, so rotating query strings and
 * session tokens in links cannot cause a change. The lists live in `html_rules.ts`.
 * @module
 */
import * as cheerio from "cheerio";
import { PipelineError } from "./errors.ts";
import {
  articleIsContent,
  CHROME_ROLES,
  CHROME_TAGS,
  CONTENT_ANCESTOR_TAGS,
  FORM_CONTENT_TAGS,
  holdsMainShare,
  isAdLike,
  isChromeLike,
  MAIN_CANDIDATES,
  NEVER_TEXT_TAGS,
  OVERLAY_ROLES,
  SIGNUP_MAX_CHARS,
} from "./html_rules.ts";
import {
  extractDefaultHtmlContent,
  type HtmlContent,
  type LayoutNode,
  MAX_HTML_DEPTH,
  nestsTooDeep,
  renderNodes,
} from "./html_stream_extractor.ts";

export type { HtmlContent } from "./html_stream_extractor.ts";
import { errorMessage } from "../errors.ts";

/** Options of {@link extractHtmlText}. */
export interface HtmlExtractOptions {
  /** The source's CSS selector; when given, only the matching elements are kept. */
  selector?: string | null;
}

const NEVER_TEXT = [
  ...NEVER_TEXT_TAGS,
  // hidden="until-found" is a collapsed section the browser's find-in-page opens: text.
  '[hidden]:not([hidden="until-found" i])',
  ...OVERLAY_ROLES.map((role) => `[role="${role}"]`),
  '[aria-modal="true"]',
  "ins.adsbygoogle",
].join(",");

const CHROME = [...CHROME_TAGS, ...CHROME_ROLES.map((role) => `[role="${role}"]`)].join(",");

const CONTENT_ANCESTORS = [...CONTENT_ANCESTOR_TAGS, "[role=main]"].join(", ");
const FORM_CONTENT = FORM_CONTENT_TAGS.join(", ");

/** A DOM node as cheerio hands it to filter callbacks. */
type _DomNode = { attribs?: Record<string, string> };
/** A cheerio selection of elements. */
type _Selection = ReturnType<typeof _select>;
function _select($: cheerio.CheerioAPI, selector: string) {
  return $(selector);
}

/**
 * Why a CSS selector cannot be used, or null when it can: compiled by the engine that
 * runs it (cheerio-select, on the selector path), for the operators' API to refuse it at
 * save time. The reason reads after "CSS selector".
 * @example
 * cssSelectorError("main > .terms"); // null
 * cssSelectorError("div["); // "is not valid: Expected name, found"
 */
export function cssSelectorError(selector: string): string | null {
  const trimmed = selector.trim();
  if (trimmed === "") return "must not be blank";
  // cheerio reads a string starting with "<" as HTML to create, not as a selector.
  if (trimmed.startsWith("<")) return "is HTML markup, not a CSS selector";
  try {
    _select(_EMPTY, trimmed);
    return null;
  } catch (error) {
    return `is not valid: ${errorMessage(error).replace(/\.+$/, "").trim()}`;
  }
}
const _EMPTY = cheerio.load("<html><body></body></html>");

/** True when an element's class or id looks like an advert or a cookie banner. */
function _isAdLike(element: _DomNode): boolean {
  return isAdLike(element.attribs?.class, element.attribs?.id);
}

/** True when an element's class or id marks chrome without a tag of its own (breadcrumbs, mobile-only). */
function _isChromeLike(element: _DomNode): boolean {
  return isChromeLike(element.attribs?.class, element.attribs?.id);
}

/** True when a header/footer belongs to the page (not to an article or section). */
function _isPageLevel($: cheerio.CheerioAPI, element: Parameters<cheerio.CheerioAPI>[0]): boolean {
  return $(element).parents(CONTENT_ANCESTORS).length === 0;
}

/** A parsed element or text node, as far as the sign-up rule walks them. */
type _TreeNode = { type: string; name?: string; parent: _TreeNode | null };

/** Removes what is never content and, when `chrome`, the page's own navigation and frame. */
function _clean($: cheerio.CheerioAPI, chrome: boolean): void {
  // Where sign-up panels may start: the element holding each e-mail field (or its form).
  const signups = chrome
    ? $('input[type="email" i]').toArray().map((input) => {
      let node = (input as unknown as _TreeNode).parent;
      while (node && node.name === "form") node = node.parent;
      return node;
    })
    : [];
  $(NEVER_TEXT).remove();
  $("[class], [id]").filter((_, el) => _isAdLike(el)).remove();
  if (!chrome) return;
  $(CHROME).remove();
  $("[class], [id]").filter((_, el) => _isChromeLike(el)).remove();
  $("header, footer").filter((_, el) => _isPageLevel($, el)).remove();
  // ASP.NET-style pages wrap the whole body in one <form>: keep forms that hold content.
  $("form").filter((_, el) => $(el).find(FORM_CONTENT).length === 0).remove();
  for (const start of signups) _removeSignupPanel($, start);
}

/**
 * Removes the largest element from `start` up whose text is at most SIGNUP_MAX_CHARS,
 * unless that is an element right under the body (the page itself) or `start` was
 * removed already.
 */
function _removeSignupPanel($: cheerio.CheerioAPI, start: _TreeNode | null): void {
  let panel: _TreeNode | null = null;
  for (let node = start; node; node = node.parent) {
    // Short up to the body: the page itself (a stub), not a panel on a page.
    if (node.type !== "tag" || node.name === "body" || node.name === "html") return;
    const element = node as unknown as Parameters<cheerio.CheerioAPI>[0];
    if (_textLength($(element).text()) > SIGNUP_MAX_CHARS) break;
    panel = node;
  }
  // A long element was reached (or the node is detached: removed with an ancestor).
  if (panel && _attached(panel)) $(panel as unknown as Parameters<cheerio.CheerioAPI>[0]).remove();
}

/** True when a node is still in the document (not removed with an ancestor). */
function _attached(node: _TreeNode): boolean {
  let root: _TreeNode = node;
  while (root.parent) root = root.parent;
  return root.type === "root";
}

/** Characters of a text that are not whitespace. */
function _textLength(text: string): number {
  return text.replace(/\s+/g, "").length;
}

/** The elements to render: the source's selector, else the page's main content, else body. */
function _roots($: cheerio.CheerioAPI, selector: string | null | undefined): _Selection {
  if (selector) {
    const invalid = cssSelectorError(selector);
    if (invalid) {
      throw new PipelineError("parse", `CSS selector ${JSON.stringify(selector)} ${invalid}`);
    }
    let matched: _Selection;
    try {
      matched = _select($, selector);
    } catch (error) {
      const detail = errorMessage(error);
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
  const pageText = _textLength($("body").text());
  for (const candidate of MAIN_CANDIDATES) {
    const found = $(candidate.selector).first();
    if (found.length === 0) continue;
    const length = _textLength(found.text());
    if (!holdsMainShare(length, pageText)) continue;
    const articles = found.find("article");
    if (articles.length === 1 && articleIsContent(_textLength(articles.text()), length)) {
      return articles;
    }
    return found;
  }
  const articles = $("article");
  if (articles.length === 1) return articles;
  return $("body"); // parse5 always builds html, head and body
}

/**
 * Extracts the readable text of an HTML page: with a selector, what it matches; without,
 * the page's main content (streaming, no DOM).
 * @example
 * extractHtmlText("<main><h1>Fees</h1><p>£719</p></main>"); // "# Fees\n\n£719"
 */
export function extractHtmlText(html: string, options: HtmlExtractOptions = {}): string {
  return extractHtmlContent(html, options).text;
}

/**
 * {@link extractHtmlText}, also saying how the content was found (the source's selector,
 * or which element the default path took), for the run's per-source explanation.
 * @example
 * extractHtmlContent("<main><p>x</p></main>"); // { text: "x", foundBy: "<main>" }
 */
export function extractHtmlContent(html: string, options: HtmlExtractOptions = {}): HtmlContent {
  const selector = options.selector?.trim() || null;
  if (selector) {
    // parse5's scope checks are quadratic in the nesting depth, and the renderer recurses:
    // a page nested past the limit browsers keep is refused before it reaches them.
    if (nestsTooDeep(html)) {
      throw new PipelineError(
        "parse",
        `the page nests elements more than ${MAX_HTML_DEPTH} deep: its CSS selector cannot be applied`,
      );
    }
    return {
      text: extractHtmlTextWithCheerio(html, { selector }),
      foundBy: `the source's CSS selector ${selector}`,
    };
  }
  return extractDefaultHtmlContent(html);
}

/**
 * The DOM path: cheerio parses the page, the chrome is removed, `renderNodes` lays out the
 * selected elements (or, without a selector, the main content). Used for sources with a
 * CSS selector, and as the reference of the streaming path in tests and benches.
 * @example
 * extractHtmlTextWithCheerio(html, { selector: "main ul" });
 */
export function extractHtmlTextWithCheerio(
  html: string,
  options: HtmlExtractOptions = {},
): string {
  let $: cheerio.CheerioAPI;
  try {
    $ = cheerio.load(html);
  } catch (error) {
    throw new PipelineError(
      "parse",
      `cannot parse HTML: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  const selector = options.selector?.trim() || null;
  _clean($, !selector);
  const roots = _roots($, selector);
  return roots.toArray().map((root) => renderNodes([root as unknown as LayoutNode])).join("\n\n");
}
