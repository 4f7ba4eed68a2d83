import assert from "node:assert/strict";
import { hasClassToken, isAdLike, isChromeLike } from "../../../shared/pipeline/html_rules.ts";

Deno.test("isAdLike() recognises advert and cookie-banner class and id names", () => {
  for (
    const [className, id] of [
      ["ad", undefined],
      ["ad-slot wide", undefined],
      [undefined, "top_ad"],
      ["adsbygoogle", undefined],
      ["Sponsored-Links", undefined],
      ["cookie-banner", undefined],
      ["site cookies_consent", undefined],
      [undefined, "taboola-feed"],
    ] as const
  ) {
    assert.equal(isAdLike(className, id), true, `${className} ${id}`);
  }
});

Deno.test("isAdLike() leaves ordinary names alone, also those containing 'ad'", () => {
  for (
    const [className, id] of [
      ["header", "main"],
      ["download shadow", undefined],
      ["breadcrumb", "read-more"],
      ["", ""],
      [undefined, undefined],
      ["cookie-policy-page", undefined],
    ] as const
  ) {
    assert.equal(isAdLike(className, id), false, `${className} ${id}`);
  }
});

Deno.test("hasClassToken() matches whole whitespace-separated class names only", () => {
  assert.equal(hasClassToken("page main-content", "main-content"), true);
  assert.equal(hasClassToken("main-content\tx", "main-content"), true);
  assert.equal(hasClassToken("main-contents", "main-content"), false);
  assert.equal(hasClassToken("xmain-content main-content-y", "main-content"), false);
  assert.equal(hasClassToken("", "main-content"), false);
});

Deno.test("isChromeLike() recognises breadcrumb trails and elements hidden on desktop screens", () => {
  for (
    const [className, id] of [
      ["breadcrumb", undefined],
      ["c-breadcrumbs__list", undefined],
      [undefined, "breadcrumb-nav"],
      ["bottom-download d-lg-none", undefined],
      ["visible-xs", undefined],
      ["lg:hidden flex", undefined],
      ["hide-for-large", undefined],
      ["is-hidden-desktop", undefined],
    ] as const
  ) {
    assert.equal(isChromeLike(className, id), true, `${className} ${id}`);
  }
  for (
    const [className, id] of [
      ["d-none d-lg-block", undefined], // shown on desktops
      ["hidden", undefined], // collapsed accordions are text too
      ["d-none", undefined],
      ["visible-lg", undefined],
      ["crumbs", "content"],
      [undefined, undefined],
    ] as const
  ) {
    assert.equal(isChromeLike(className, id), false, `${className} ${id}`);
  }
});
