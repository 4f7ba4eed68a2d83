import assert from "node:assert/strict";
import { HtmlTextBuilder } from "../../../shared/pipeline/html_text_builder.ts";

/** A block of `text` that asks for `breaks` line breaks around it. */
function addBlock(b: HtmlTextBuilder, breaks: number, text: string): void {
  b.openBlock(breaks);
  b.addInline(text);
  b.closeBlock(breaks);
}

Deno.test("HtmlTextBuilder folds HTML whitespace but keeps no-break spaces", () => {
  const b = new HtmlTextBuilder();
  b.addInline("  Fee:\t\n £719\u00a0 ");
  b.addInline("per year");
  assert.equal(b.toString(), "Fee: £719\u00a0 per year");
});

Deno.test("HtmlTextBuilder joins text without whitespace between into one word", () => {
  const b = new HtmlTextBuilder();
  b.addInline("sur");
  b.addInline("charge ");
  b.addInline(" applies");
  assert.equal(b.toString(), "surcharge applies");
});

Deno.test("HtmlTextBuilder separates blocks by the larger of their line-break demands", () => {
  const b = new HtmlTextBuilder();
  addBlock(b, 1, "a");
  addBlock(b, 2, "b");
  addBlock(b, 1, "c");
  assert.equal(b.toString(), "a\n\nb\n\nc");
});

Deno.test("HtmlTextBuilder ignores whitespace right after a block", () => {
  const b = new HtmlTextBuilder();
  addBlock(b, 2, "a");
  b.addInline("   \n ");
  b.addInline("b");
  assert.equal(b.toString(), "a\n\nb");
});

Deno.test("HtmlTextBuilder keeps pre text raw, also in blocks inside it", () => {
  const b = new HtmlTextBuilder();
  b.openBlock(2, true);
  b.addInline("  x =  1\n");
  addBlock(b, 1, "  y");
  b.closeBlock(2);
  assert.equal(b.toString(), "  x =  1\n\n  y");
});

Deno.test("HtmlTextBuilder pads list prefixes to the longest and indents continuation lines", () => {
  const b = new HtmlTextBuilder();
  b.openList(2);
  for (const [prefix, text] of [[" 9. ", "nine"], [" 10. ", "ten"]] as const) {
    b.openListItem(prefix);
    b.addInline(text);
    if (text === "nine") {
      b.addLineBreak();
      b.addInline("more");
    }
    b.closeListItem();
  }
  b.closeList(2);
  assert.equal(b.toString(), " 9.  nine\n     more\n 10. ten");
});

Deno.test("HtmlTextBuilder drops a list without text", () => {
  const b = new HtmlTextBuilder();
  b.addInline("a");
  b.openList(2);
  b.closeList(2);
  b.addInline("b");
  assert.equal(b.toString(), "ab");
});
