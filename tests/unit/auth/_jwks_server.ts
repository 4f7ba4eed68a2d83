/**
 * A real JWKS server on 127.0.0.1 for the auth tests: serves whatever key set or failure
 * the test sets, counts requests, and can hold requests open to provoke timeouts.
 * @module
 */
import type { JWK } from "jose";

/** Behaviour of the server for the next requests. */
export type JwksServe =
  | { kind: "keys"; keys: JWK[] }
  | { kind: "status"; status: number }
  | { kind: "body"; body: string }
  | { kind: "hang" };

/** A running JWKS server; close it at the end of the test. */
export interface JwksServer {
  url: string;
  /** Requests received so far. */
  hits: () => number;
  /** Changes what the next requests get. */
  serve: (next: JwksServe) => void;
  close: () => Promise<void>;
}

/** Starts a JWKS server on a free loopback port. */
export function startJwksServer(initial: JwksServe): JwksServer {
  let mode = initial;
  let hits = 0;
  const release = Promise.withResolvers<void>();
  const server = Deno.serve(
    {
      port: 0,
      hostname: "127.0.0.1",
      onListen() {},
      onError: () => new Response(null, { status: 500 }),
    },
    async () => {
      hits++;
      const current = mode;
      switch (current.kind) {
        case "keys":
          return Response.json({ keys: current.keys });
        case "status":
          return new Response("unavailable", { status: current.status });
        case "body":
          return new Response(current.body, { headers: { "content-type": "application/json" } });
        case "hang":
          await release.promise;
          return new Response("late", { status: 503 });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/auth/v1/.well-known/jwks.json`,
    hits: () => hits,
    serve: (next) => (mode = next),
    close: async () => {
      release.resolve();
      await server.shutdown();
    },
  };
}

/** A URL on which nothing listens: a port that was just freed. */
export async function closedJwksUrl(): Promise<string> {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response(),
  );
  const url = `http://127.0.0.1:${server.addr.port}/auth/v1/.well-known/jwks.json`;
  await server.shutdown();
  return url;
}
