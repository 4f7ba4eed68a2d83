import assert from "node:assert/strict";
import { portListening, readProcFile } from "../../../supabase/local/stack.ts";

const RANGES = "/proc/sys/net/ipv4/ip_local_reserved_ports";

async function cat(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("readProcFile() reads a sysctl whole, as cat does (Deno.readTextFile cut it at 32 bytes)", async () => {
  assert.equal(
    await readProcFile("/proc/sys/net/ipv4/ip_local_port_range"),
    await cat("/proc/sys/net/ipv4/ip_local_port_range"),
  );
  const ranges = await readProcFile(RANGES);
  assert.equal(ranges, await cat(RANGES));
  // Every range reads back as a range (the stack reserved several here when root).
  for (const range of ranges.trim().split(",").filter(Boolean)) {
    assert.match(range, /^\d+(-\d+)?$/);
  }
});

Deno.test("portListening() sees a listening socket on a port, IPv4 and IPv6, and not a closed one", async () => {
  const v4 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (v4.addr as Deno.NetAddr).port;
  try {
    assert.equal(await portListening(port), true);
    assert.equal(await portListening(port, ["/proc/net/tcp6"]), false, "not an IPv6 listener");
  } finally {
    v4.close();
  }
  assert.equal(await portListening(port), false, "closed");
  const v6 = Deno.listen({ hostname: "::1", port: 0 });
  try {
    assert.equal(await portListening((v6.addr as Deno.NetAddr).port), true);
  } finally {
    v6.close();
  }
  // A client socket on the port is not a listener (what waiting and retrying is for).
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (server.addr as Deno.NetAddr).port,
  });
  const accepted = await server.accept();
  try {
    assert.equal(await portListening((client.localAddr as Deno.NetAddr).port), false);
  } finally {
    client.close();
    accepted.close();
    server.close();
  }
  assert.equal(await portListening(port, ["/nonexistent/tcp"]), false, "unreadable tables");
});
