/**
 * Boots a bundled probe (`EDGE_PROBE_BUNDLE`) as the stack's worker shim boots the function's
 * bundle: the Node globals first, then the bundle (run_probe.ts runBundledEdgeProbe).
 * @module
 */
import { installNodeGlobals } from "../../../../supabase/local/edge_node_globals.ts";

const entry = Deno.env.get("EDGE_PROBE_BUNDLE");
if (!entry) throw new Error("Cannot boot a bundled probe: EDGE_PROBE_BUNDLE is not set");
installNodeGlobals();
await import(`file://${entry}`);
