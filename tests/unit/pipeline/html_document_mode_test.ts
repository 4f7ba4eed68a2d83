import assert from "node:assert/strict";
import { isQuirksDoctype } from "../../../shared/pipeline/html_document_mode.ts";

Deno.test("isQuirksDoctype() is false for HTML5 and strict or XHTML doctypes", () => {
  for (
    const doctype of [
      "DOCTYPE html",
      "doctype HTML",
      'DOCTYPE html SYSTEM "about:legacy-compat"',
      'DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd"',
      'DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd"',
      'DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd"',
    ]
  ) {
    assert.equal(isQuirksDoctype(doctype), false, doctype);
  }
});

Deno.test("isQuirksDoctype() is true for legacy, unknown and broken doctypes", () => {
  for (
    const doctype of [
      'DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"',
      'DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN"',
      'DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"',
      "DOCTYPE svg",
      "DOCTYPE",
      "DOCTYPE html SYSTEM",
    ]
  ) {
    assert.equal(isQuirksDoctype(doctype), true, doctype);
  }
});
