/**
 * Run by edge_runtime_io_test.ts under the Deno the hosted edge runtime embeds (tools/npm
 * `deno-edge`, 2.1.4), with the function's import map: fetches `count` gzip bombs at once
 * through the real fetcher, on both of its I/O paths (an IP literal goes through `fetch`,
 * a name through the pinned socket connection), then prints one JSON line: the error
 * class of each fetch and the isolate's heap + external bytes before and after.
 * @module
 */
import { DEFAULT_CONFIG } from "../../../../shared/config.ts";
import { fetchDocument } from "../../../../shared/pipeline/fetcher.ts";
import { PipelineError } from "../../../../shared/pipeline/errors.ts";
import { pinnedConnect } from "../../../../shared/pipeline/pinned_connect.ts";
import { gzipBomb } from "../../../fixtures/pipeline_gzip_bomb.ts";

const [path, countArg] = Deno.args;
const count = Number(countArg ?? "2");

// The fault tests' bomb: 1 GiB, about 1 MB on the wire.
const bomb = await gzipBomb();
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  () =>
    new Response(bomb, {
      headers: { "content-type": "text/html; charset=utf-8", "content-encoding": "gzip" },
    }),
);
const { port } = server.addr as Deno.NetAddr;
const host = path === "pinned" ? "bomb.test" : "127.0.0.1";

const used = () => {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
};
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const before = used();
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, used())), 5);
const classes = await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    try {
      await fetchDocument({ url: `http://${host}:${port}/${i}` }, {
        fetch,
        config: { ...DEFAULT_CONFIG, FETCH_ALLOW_LOOPBACK: true, FETCH_RETRIES: 0 },
        logger: silent,
        clock: () => new Date(),
        resolveHost: () => Promise.resolve(["127.0.0.1"]),
        connect: pinnedConnect,
      });
      return "ok";
    } catch (error) {
      return error instanceof PipelineError
        ? `${error.errorClass}: ${error.message}`
        : `unclassified: ${error}`;
    }
  }),
);
// Time for anything late on a cancelled body to surface (an uncaught error would end the probe).
await new Promise((resolve) => setTimeout(resolve, 500));
clearInterval(sampler);
console.log(JSON.stringify({ classes, before, peak, after: used(), version: Deno.version.deno }));
await server.shutdown();
