/**
 * pg_net's background worker, for the local stack: sends the requests that
 * `net.http_post` / `net.http_get` queued, once their transaction has committed, and
 * records each outcome in `net._http_response` (status_code, content, timed_out,
 * error_msg). Wakes on `pg_notify('net_http_request')` (delivered only on commit) and
 * polls once a second as a safety net. Responses older than 6 hours are deleted, like
 * pg_net's ttl.
 * @module
 */
import postgres from "postgres";
import { redactText } from "../../shared/log.ts";
import { ADMIN_DB_URL } from "./ports.ts";
import { errorMessage } from "../../shared/errors.ts";

const BATCH = 50;

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string> | null;
  body: Uint8Array | null;
  timeout_milliseconds: number;
}

/** Sends one queued request and returns the row for `net._http_response`. */
export async function send(req: QueuedRequest, fetchFn: typeof fetch = fetch) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), req.timeout_milliseconds);
  try {
    const res = await fetchFn(req.url, {
      method: req.method,
      headers: req.headers ?? {},
      body: req.method === "GET" || !req.body ? undefined : new Uint8Array(req.body),
      signal: controller.signal,
    });
    const content = await res.text();
    return {
      id: req.id,
      status_code: res.status,
      content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (e) {
    const timedOut = controller.signal.aborted;
    return {
      id: req.id,
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: timedOut ? `Timeout of ${req.timeout_milliseconds} ms reached` : errorMessage(e),
    };
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  // As supabase_admin: pg_net's worker runs inside the server, behind the grants callers see.
  const sql = postgres(ADMIN_DB_URL, { max: 4, onnotice: () => {} });
  let draining = false;
  let again = false;
  const drain = async () => {
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    try {
      do {
        again = false;
        const batch = await sql<QueuedRequest[]>`
          delete from net.http_request_queue
          where id in (select id from net.http_request_queue order by id limit ${BATCH}
                       for update skip locked)
          returning id::text, method, url, headers, body, timeout_milliseconds`;
        if (batch.length === BATCH) again = true;
        await Promise.all(batch.map(async (req) => {
          const r = await send(req);
          console.log(JSON.stringify({
            msg: "net request",
            id: r.id,
            method: req.method,
            url: redactText(req.url),
            status: r.status_code,
            error: r.error_msg,
          }));
          await sql`
            insert into net._http_response
              (id, status_code, content_type, headers, content, timed_out, error_msg)
            values (${r.id}, ${r.status_code}, ${r.content_type}, ${
            r.headers ? sql.json(r.headers) : null
          }, ${r.content}, ${r.timed_out}, ${r.error_msg})`;
        }));
      } while (again);
    } catch (e) {
      console.error(`net dispatcher: ${errorMessage(e)}`);
    } finally {
      draining = false;
    }
  };
  await sql.listen("net_http_request", () => void drain());
  setInterval(() => void drain(), 1_000);
  setInterval(() => {
    sql`delete from net._http_response where created < now() - interval '6 hours'`.catch(() => {});
  }, 600_000);
  console.log("net dispatcher ready");
  await drain();
}

if (import.meta.main) await main();
