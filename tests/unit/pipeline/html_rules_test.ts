import assert from "node:assert/strict";
import { hasClassToken, isAdLike } from "../../../shared/pipeline/html_rules.ts";

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
