/**
 * What the HTML extractors drop and where they look for the main content. Both paths read
 * these lists: the cheerio path (a source with its own CSS selector) turns them into CSS
 * selectors, the streaming path ({@link extractHtmlTextStreaming}) checks each element
 * against them when it opens, so the two cannot drift apart.
 * @module
 */

/** Elements that are never visible text or are form controls; dropped with their content. */
export const NEVER_TEXT_TAGS: readonly string[] = [
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
  "title",
];

/**
 * ARIA roles of overlays (cookie consent, sign-up and newsletter prompts): dropped with
 * their content, as are elements with `aria-modal="true"`. Text under `aria-hidden="true"`
 * is kept: sites hide the whole page from screen readers while such a dialog is open, and
 * collapsed accordions hide policy sections the same way; so is `hidden="until-found"`, the
 * HTML standard's collapsed section that find-in-page reveals (plain `hidden` is dropped).
 */
export const OVERLAY_ROLES: readonly string[] = ["dialog", "alertdialog"];

/**
 * A main-content candidate holding less than this share of the page's text is a title or
 * a shell (`<main>` with only the heading), not the content: the next candidate is tried.
 */
export const MIN_MAIN_SHARE = 0.1;

/**
 * Inside the chosen main content, its only `<article>` is the content when it holds at
 * least this share of the text: what the main element adds around it is furniture ("Was
 * this helpful?", "Still need help?", related links).
 */
export const ARTICLE_SHARE = 0.6;

/**
 * The content-choice rule both HTML paths apply to a main-content candidate of `length`
 * characters of text on a page of `pageLength`: it is the content unless it is empty or
 * less than {@link MIN_MAIN_SHARE} of the page.
 */
export function holdsMainShare(length: number, pageLength: number): boolean {
  return length > 0 && length >= pageLength * MIN_MAIN_SHARE;
}

/** Whether the only article of a chosen main content is the content ({@link ARTICLE_SHARE}). */
export function articleIsContent(articleLength: number, mainLength: number): boolean {
  return articleLength >= mainLength * ARTICLE_SHARE;
}

/** Page chrome elements, dropped unless the source gives its own selector. */
export const CHROME_TAGS: readonly string[] = ["nav", "aside"];

/** ARIA landmark roles of page chrome, dropped unless the source gives its own selector. */
export const CHROME_ROLES: readonly string[] = [
  "navigation",
  "banner",
  "contentinfo",
  "complementary",
  "search",
];

/**
 * A header or footer inside one of these (or inside `[role=main]`) belongs to the content;
 * anywhere else it is the page's own and is dropped.
 */
export const CONTENT_ANCESTOR_TAGS: readonly string[] = [
  "article",
  "main",
  "section",
  "aside",
  "nav",
];

/**
 * A form holding one of these is a page-wide wrapper (ASP.NET) and is kept; any other form
 * (search boxes, newsletter sign-ups) is dropped.
 */
export const FORM_CONTENT_TAGS: readonly string[] = ["main", "article", "h1", "h2", "p"];

/** One place the main content may be: a tag name, a role, an id or a class token. */
export interface MainCandidate {
  /** The same test as a CSS selector, for the cheerio path. */
  selector: string;
  tag?: string;
  role?: string;
  id?: string;
  className?: string;
}

/**
 * Where the main content usually is, in order of trust. The first element matching a
 * candidate is used when it has text; then a page's only `article`; then the body.
 */
export const MAIN_CANDIDATES: readonly MainCandidate[] = [
  { selector: "main", tag: "main" },
  { selector: '[role="main"]', role: "main" },
  { selector: "#main-content", id: "main-content" },
  { selector: "#content", id: "content" },
  { selector: "#main", id: "main" },
  { selector: ".main-content", className: "main-content" },
];

/** Class or id tokens that mark adverts and consent banners (split on - and _). */
const AD_TOKEN =
  /^(ad|ads|adv|advert|adverts|advertisement|advertising|adslot|adunit|adbox|adbanner|adcontainer|adsense|adsbygoogle|dfp|gpt|sponsor|sponsored|promoted|doubleclick|taboola|outbrain)$/i;
const BANNER =
  /(^|[-_\s])cookie(s)?[-_]?(banner|consent|notice|bar|message|policy-banner|popup|modal|dialog|overlay)|(^|[-_\s])(onetrust|ot-sdk|didomi|cookiebot|usercentrics|truste|qc-cmp|cmp-container|consent-banner|consent-modal|gdpr-banner)/i;
/**
 * Every name {@link isAdLike} accepts contains one of these, so names without any are
 * answered with one scan (most class names on a page).
 */
const AD_HINT =
  /ad|dfp|gpt|sponsor|promoted|doubleclick|taboola|outbrain|cookie|onetrust|ot-sdk|didomi|usercentrics|truste|cmp|consent|gdpr/i;

/**
 * True when an element's class or id looks like an advert or a cookie banner.
 * @example
 * isAdLike("ad-slot wide", undefined); // true
 * isAdLike("header", "main"); // false
 */
export function isAdLike(className: string | undefined, id: string | undefined): boolean {
  const names = `${className ?? ""} ${id ?? ""}`;
  if (!AD_HINT.test(names)) return false;
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

/**
 * Class or id tokens of page chrome that has no element or role of its own: breadcrumb
 * trails (Bootstrap's `.breadcrumb`, schema.org BreadcrumbList markup's usual names), and
 * elements the page's own responsive classes hide on a desktop-width screen (mobile app
 * banners, mobile menus: Bootstrap `d-lg-none`/`hidden-lg`/`visible-xs`, Tailwind `lg:hidden`,
 * Foundation `hide-for-large`, Bulma `is-hidden-desktop`), whose text a desktop reader never sees.
 */
const CHROME_TOKEN =
  /^(?:(?:[\w-]*[-_])?breadcrumbs?(?:[-_][\w-]*)?|d-(?:md|lg|xl|xxl)-none|hidden-(?:md|lg)|visible-(?:xs|sm)(?:-(?:block|inline|inline-block|flex))?|(?:md|lg|xl):hidden|hide-for-(?:medium|large)(?:-up)?|show-for-small-only|is-hidden-(?:tablet|desktop))$/i;
/** Every name {@link isChromeLike} accepts contains one of these (one scan for most names). */
const CHROME_HINT = /breadcrumb|none|hidden|visible|hide-for|show-for/i;

/**
 * True when an element's class or id marks page chrome without a tag or role of its own
 * (see {@link CHROME_TOKEN}): dropped, like `nav`, unless the source gives its own selector.
 * @example
 * isChromeLike("breadcrumb", undefined); // true
 * isChromeLike("bottom-banner d-lg-none", undefined); // true
 * isChromeLike("d-none d-lg-block", undefined); // false: shown on desktops
 */
export function isChromeLike(className: string | undefined, id: string | undefined): boolean {
  const names = `${className ?? ""} ${id ?? ""}`;
  if (!CHROME_HINT.test(names)) return false;
  for (const name of names.split(/\s+/)) {
    if (name && CHROME_TOKEN.test(name)) return true;
  }
  return false;
}

/**
 * A sign-up panel: the largest element around an e-mail field (`<input type="email">`)
 * whose text stays under this many characters ("Join our newsletter", "Thanks for signing
 * up!") is dropped with it; a policy section holding a contact form is longer than that.
 */
export const SIGNUP_MAX_CHARS = 1_000;

/** True when a class attribute value holds `token` as one of its whitespace-separated names. */
export function hasClassToken(className: string, token: string): boolean {
  let from = 0;
  for (;;) {
    const at = className.indexOf(token, from);
    if (at < 0) return false;
    const end = at + token.length;
    if (
      (at === 0 || _isHtmlSpace(className.charCodeAt(at - 1))) &&
      (end === className.length || _isHtmlSpace(className.charCodeAt(end)))
    ) return true;
    from = at + 1;
  }
}

/** Space, tab, LF, FF or CR: what separates class names in HTML. */
function _isHtmlSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 12 || code === 13;
}
