import { pdfInflateBomb } from "./tests/fixtures/hostile_inputs.ts";
const rss = () =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) / 1024);
const b = await pdfInflateBomb(500 << 20);
const t = new TextDecoder("latin1").decode(b);
const s = t.indexOf("stream\n", t.indexOf("FlateDecode")) + 7;
const e = t.indexOf("endstream", s);
const z = b.slice(s, e + 1); // plus a trailing byte
await new Promise((r) => setTimeout(r, 200));
console.log("before", rss());
const step = Number(Deno.args[0] ?? 4096);
const ds = new DecompressionStream("deflate");
const w = ds.writable.getWriter();
const r = ds.readable.getReader();
let sum = 0;
const reading = (async () => {
  try {
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      sum += value.byteLength;
      if (sum > 32 << 20) {
        await r.cancel();
        return "cap";
      }
    }
    return "done";
  } catch (er) {
    return "err " + (er as Error).message;
  }
})();
(async () => {
  try {
    for (let at = 0; at < z.length; at += step) await w.write(z.slice(at, at + step));
    await w.close();
  } catch { /* */ }
})();
console.log(await reading, sum, "after", rss());
