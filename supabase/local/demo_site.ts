/**
 * The local stack's demo site (http://127.0.0.1:54340): policy pages for the seed's
 * sources, a way to edit them, and sinks that print what the alert engine sends.
 *
 * - `GET /policies/visa-rules.html`: a visa rules page (editable)
 * - `GET /policies/terms.html`: terms of service whose inline script, footer timestamp,
 *   ad id and session-token links change on every request (noise, never a change)
 * - `GET /policies/privacy.pdf`: a privacy policy PDF (editable)
 * - `POST /admin/edit` `{"page": "visa-rules"|"terms"|"privacy", "find": "…", "replace": "…"}`
 *   or `{"page": …, "append": "…"}`; `POST /admin/reset`; `GET /admin/pages`
 * - `POST /sink/webhook`, `/sink/slack`, `/sink/email`: print and keep what they receive;
 *   `GET /sink/<name>` lists it, `DELETE /sink/<name>` clears it.
 * @module
 */
import { PDFDocument, StandardFonts } from "pdf-lib";
import { hmacSha256Hex } from "../../shared/alerts/signature.ts";
import { PORTS, STATE_DIR } from "./ports.ts";

/** The webhook secret of the seed's demo subscription (see supabase/seed.sql). */
export const DEMO_WEBHOOK_SECRET = "demo-webhook-secret-change-me-0123456789";

type PageName = "visa-rules" | "terms" | "privacy";

const DEFAULT_PAGES: Record<PageName, string[]> = {
  "visa-rules": [
    "Visitor visa rules",
    "1. Visitors may stay for up to 90 days in any 180-day period.",
    "2. A passport valid for at least 3 months after departure is required.",
    "3. Visitors must not take paid work or study for longer than 30 days.",
    "4. Proof of onward travel and sufficient funds may be requested at the border.",
    "5. Applications are decided within 15 working days.",
  ],
  "terms": [
    "Terms of service",
    "1. You must be 16 or older to use the service.",
    "2. We may suspend accounts that break these terms, with notice by email.",
    "3. Disputes are settled under the laws of the Republic of Examplia.",
    "4. We give 30 days' notice of changes to these terms.",
  ],
  "privacy": [
    "Privacy policy",
    "We collect your name, email address and payment details to provide the service.",
    "We keep account data for 24 months after the account is closed.",
    "We share data with payment processors and, when the law requires it, with authorities.",
    "You may ask for a copy of your data or for its deletion at any time.",
  ],
};

const STATE_FILE = `${STATE_DIR}/demo-site.json`;

interface Received {
  at: string;
  headers: Record<string, string>;
  body: unknown;
  signature_valid?: boolean;
}

let pages: Record<PageName, string[]> = structuredClone(DEFAULT_PAGES);
const sinks: Record<string, Received[]> = { webhook: [], slack: [], email: [] };

async function load(): Promise<void> {
  try {
    pages = { ...pages, ...JSON.parse(await Deno.readTextFile(STATE_FILE)) };
  } catch { /* first start: defaults */ }
}

async function save(): Promise<void> {
  await Deno.mkdir(STATE_DIR, { recursive: true });
  await Deno.writeTextFile(STATE_FILE, JSON.stringify(pages, null, 2));
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function htmlPage(name: PageName, noisy: boolean): string {
  const [title = "", ...items] = pages[name];
  const token = crypto.randomUUID();
  const now = new Date().toISOString();
  const nav = `<nav><a href="/">Home</a> <a href="/policies/visa-rules.html?session=${
    noisy ? token : "x"
  }">Visa rules</a> <a href="/policies/terms.html">Terms</a></nav>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
${noisy ? `<script>window.__state = {"requestId": "${token}", "ts": ${Date.now()}};</script>` : ""}
<style>body { font-family: sans-serif; }</style></head>
<body>
<header><h1>Examplia Government Portal</h1>${nav}</header>
<main>
<h2>${esc(title)}</h2>
<ol>
${items.map((i) => `<li>${esc(i.replace(/^\d+\.\s*/, ""))}</li>`).join("\n")}
</ol>
${noisy ? `<p><a href="/contact?sid=${token}">Contact us</a></p>` : ""}
</main>
${
    noisy
      ? `<aside class="ad" id="ad-${token.slice(0, 8)}">Sponsored: offer ${
        token.slice(0, 6)
      }</aside>`
      : ""
  }
<footer>Page generated ${noisy ? now : "2026-01-01T00:00:00Z"} · © Examplia</footer>
</body></html>`;
}

async function pdf(name: PageName): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  // Fixed metadata: an unchanged policy must give byte-identical files.
  const epoch = new Date("2026-01-01T00:00:00Z");
  doc.setCreationDate(epoch);
  doc.setModificationDate(epoch);
  doc.setProducer("demo-site");
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([595, 842]);
  let y = 800;
  for (const line of pages[name]) {
    page.drawText(line, { x: 40, y, size: 11, font });
    y -= 24;
  }
  return await doc.save();
}

function json(data: unknown, status = 200): Response {
  return Response.json(data, { status });
}

async function verifySignature(raw: string, header: string | null): Promise<boolean | undefined> {
  if (!header) return undefined;
  return header === `sha256=${await hmacSha256Hex(DEMO_WEBHOOK_SECRET, raw)}`;
}

/** Handles one request of the demo site. */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (req.method === "GET" && path === "/policies/visa-rules.html") {
    return new Response(htmlPage("visa-rules", false), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }
  if (req.method === "GET" && path === "/policies/terms.html") {
    return new Response(htmlPage("terms", true), {
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
    });
  }
  if (req.method === "GET" && path === "/policies/privacy.pdf") {
    return new Response((await pdf("privacy")) as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/pdf" },
    });
  }
  if (req.method === "GET" && path === "/admin/pages") return json(pages);
  if (req.method === "POST" && path === "/admin/reset") {
    pages = structuredClone(DEFAULT_PAGES);
    await save();
    return json({ ok: true });
  }
  if (req.method === "POST" && path === "/admin/edit") {
    const body = await req.json().catch(() => null) as
      | { page?: string; find?: string; replace?: string; append?: string }
      | null;
    const name = body?.page as PageName | undefined;
    if (!body || !name || !(name in pages)) {
      return json({
        error: { code: "bad_request", message: "page must be visa-rules, terms or privacy" },
      }, 400);
    }
    if (typeof body.append === "string") {
      pages[name].push(body.append);
    } else if (typeof body.find === "string" && typeof body.replace === "string") {
      const i = pages[name].findIndex((l) => l.includes(body.find!));
      if (i < 0) {
        return json({ error: { code: "not_found", message: `Text not found: ${body.find}` } }, 404);
      }
      pages[name][i] = pages[name][i]!.replace(body.find, body.replace);
    } else {
      return json(
        { error: { code: "bad_request", message: "give find and replace, or append" } },
        400,
      );
    }
    await save();
    console.log(`edited ${name}`);
    return json({ ok: true, page: name, lines: pages[name] });
  }
  const sink = path.match(/^\/sink\/(webhook|slack|email)$/)?.[1];
  if (sink) {
    const list = sinks[sink]!;
    if (req.method === "GET") return json(list);
    if (req.method === "DELETE") {
      list.length = 0;
      return json({ ok: true });
    }
    if (req.method === "POST") {
      const raw = await req.text();
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch { /* keep text */ }
      const headers = Object.fromEntries(
        [...req.headers].filter(([k]) => k !== "authorization"),
      );
      const entry: Received = {
        at: new Date().toISOString(),
        headers,
        body,
        signature_valid: sink === "webhook"
          ? await verifySignature(raw, req.headers.get("x-signature-256"))
          : undefined,
      };
      list.push(entry);
      if (list.length > 200) list.shift();
      const b = body as { event?: string; source?: { name?: string }; change?: { diff?: string } };
      console.log(
        `[sink ${sink}] ${b?.event ?? "message"} ${b?.source?.name ?? ""}` +
          (entry.signature_valid === undefined
            ? ""
            : ` signature ${entry.signature_valid ? "valid" : "INVALID"}`) +
          (b?.change?.diff ? `\n${b.change.diff}` : ""),
      );
      return sink === "email" ? json({ id: crypto.randomUUID() }) : new Response("ok");
    }
  }
  return json({ error: { code: "not_found", message: `No route for ${req.method} ${path}` } }, 404);
}

if (import.meta.main) {
  await load();
  Deno.serve({ hostname: "127.0.0.1", port: PORTS.demo }, handle);
}
