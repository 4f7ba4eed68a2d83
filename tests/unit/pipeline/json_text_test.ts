import assert from "node:assert/strict";
import { PipelineError } from "../../../shared/pipeline/errors.ts";
import { jsonDepth, jsonText } from "../../../shared/pipeline/json_text.ts";
import { deepJson } from "../../fixtures/hostile_inputs.ts";

const LIMITS = { maxDepth: 100, maxTextChars: 1_000_000 };

Deno.test("jsonText() prints exactly as JSON.stringify(value, null, 2)", () => {
  const docs = [
    '{"fee":719,"currency":"GBP","rules":[{"id":1,"text":"a \\"b\\" \\u00e9"},[],{}],"n":null,"t":true}',
    '[1,2.5e3,-0,"x",[[[]]],{"__proto__":{"a":1},"10":2,"b":3}]',
    '"just a string"',
    "42",
    "[]",
    "{}",
  ];
  for (const doc of docs) {
    assert.equal(jsonText(doc, LIMITS), JSON.stringify(JSON.parse(doc), null, 2));
  }
});

Deno.test("jsonDepth() counts nesting outside strings only", () => {
  assert.equal(jsonDepth('{"a":"[[[{{{","b":[[1]]}'), 3);
  assert.equal(jsonDepth('["\\\\", ["\\"["]]'), 2);
});

Deno.test("jsonText() refuses deep nesting with parse and a large printout with too_large", () => {
  assert.throws(
    () => jsonText(deepJson(101), LIMITS),
    (e) =>
      e instanceof PipelineError && e.errorClass === "parse" && /deeper than 100/.test(e.message),
  );
  // 100 levels deep, 300 copies: ~60 KB of JSON that would print to ~3 MB.
  assert.throws(
    () => jsonText(deepJson(99, 300), LIMITS),
    (e) => e instanceof PipelineError && e.errorClass === "too_large",
  );
  assert.throws(
    () => jsonText("{oops", LIMITS),
    (e) =>
      e instanceof PipelineError && e.errorClass === "parse" && /^invalid JSON/.test(e.message),
  );
});
