import assert from "node:assert/strict";
import { readSysctl } from "../../../supabase/local/stack.ts";

const RANGES = "/proc/sys/net/ipv4/ip_local_reserved_ports";

async function cat(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("readSysctl() reads a sysctl whole, as cat does (Deno.readTextFile cut it at 32 bytes)", async () => {
  assert.equal(
    await readSysctl("/proc/sys/net/ipv4/ip_local_port_range"),
    await cat("/proc/sys/net/ipv4/ip_local_port_range"),
  );
  const ranges = await readSysctl(RANGES);
  assert.equal(ranges, await cat(RANGES));
  // Every range reads back as a range (the stack reserved several here when root).
  for (const range of ranges.trim().split(",").filter(Boolean)) {
    assert.match(range, /^\d+(-\d+)?$/);
  }
});
