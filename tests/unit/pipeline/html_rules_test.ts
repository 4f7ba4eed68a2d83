import assert from "node:assert/strict";
import { hasClassToken, isAdLike, isChromeLike } from "../../../shared/pipeline/html_rules.ts";

type _Names = ReadonlyArray<readonly [string | undefined, string | undefined]>;

/** Asserts what a class/id rule says of each `[className, id]`. */
function assertRule(
  rule: (className: string | undefined, id: string | undefined) => boolean,
  names: _Names,
  expected: boolean,
): void {
  for (const [className, id] of names) {
    assert.equal(rule(className, id), expected, `${className} ${id}`);
  }
}

Deno.test("isAdLike() recognises advert and cookie-banner class and id names", () => {
  assertRule(isAdLike, [
    ["ad", undefined],
    ["ad-slot wide", undefined],
    [undefined, "top_ad"],
    ["adsbygoogle", undefined],
    ["Sponsored-Links", undefined],
    ["cookie-banner", undefined],
    ["site cookies_consent", undefined],
    [undefined, "taboola-feed"],
  ], true);
});

Deno.test("isAdLike() leaves ordinary names alone, also those containing 'ad'", () => {
  assertRule(isAdLike, [
    ["header", "main"],
    ["download shadow", undefined],
    ["breadcrumb", "read-more"],
    ["", ""],
    [undefined, undefined],
    ["cookie-policy-page", undefined],
  ], false);
});

Deno.test("hasClassToken() matches whole whitespace-separated class names only", () => {
  assert.equal(hasClassToken("page main-content", "main-content"), true);
  assert.equal(hasClassToken("main-content\tx", "main-content"), true);
  assert.equal(hasClassToken("main-contents", "main-content"), false);
  assert.equal(hasClassToken("xmain-content main-content-y", "main-content"), false);
  assert.equal(hasClassToken("", "main-content"), false);
});

Deno.test("isChromeLike() recognises breadcrumb trails and elements hidden on desktop screens", () => {
  assertRule(isChromeLike, [
    ["breadcrumb", undefined],
    ["c-breadcrumbs__list", undefined],
    [undefined, "breadcrumb-nav"],
    ["bottom-download d-lg-none", undefined],
    ["visible-xs", undefined],
    ["lg:hidden flex", undefined],
    ["hide-for-large", undefined],
    ["is-hidden-desktop", undefined],
  ], true);
  assertRule(isChromeLike, [
    ["d-none d-lg-block", undefined], // shown on desktops
    ["hidden", undefined], // collapsed accordions are text too
    ["d-none", undefined],
    ["visible-lg", undefined],
    ["crumbs", "content"],
    [undefined, undefined],
  ], false);
});
