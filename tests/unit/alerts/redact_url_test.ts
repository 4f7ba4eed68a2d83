import assert from "node:assert/strict";
import { redactSourceUrl } from "../../../shared/alerts/redact_url.ts";

Deno.test("redactSourceUrl() drops credentials and keeps the link to the page", () => {
  const cases: [string, string][] = [
    ["https://user:pass@gov.example/rules", "https://gov.example/rules"],
    ["https://gov.example/rules?lang=en&access_token=abc", "https://gov.example/rules?lang=en"],
    ["https://gov.example/r?api_key=1&apikey=2&Key=3&page=2", "https://gov.example/r?page=2"],
    [
      "https://bucket.example/doc.pdf?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-Expires=60",
      "https://bucket.example/doc.pdf?X-Amz-Expires=60",
    ],
    ["https://gov.example/r?sig=1&session=2&sid=3&password=4&id=7", "https://gov.example/r?id=7"],
    ["https://gov.example/r?x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "https://gov.example/r"],
    ["https://gov.example/r?ref=a1b2c3d4e5f6a7b8c9d0e1f2a3", "https://gov.example/r"],
    ["https://gov.example/r#access_token=abc&state=1", "https://gov.example/r#state=1"],
    ["https://gov.example/r?year=2026#section-3", "https://gov.example/r?year=2026#section-3"],
  ];
  for (const [input, expected] of cases) assert.equal(redactSourceUrl(input), expected, input);
  assert.equal(redactSourceUrl("not a url"), "(invalid URL)");
});
