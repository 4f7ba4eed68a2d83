/**
 * SSRF guard: before each request (the first and every redirect hop) the host of the URL
 * is resolved and every address it resolves to is checked, so a public-looking name that
 * points at a private network, loopback, link-local or a cloud metadata endpoint is
 * refused as `blocked` before any connection is made.
 *
 * The connection then goes to the address that was checked, not to a second lookup
 * (pinned_connect.ts; the fetcher and alert delivery both do so), so a name whose DNS
 * answer changes between the check and the connection (DNS rebinding) cannot reach an
 * internal address.
 * @module
 */
import ipaddr from "ipaddr.js";
import type { Config } from "../config.ts";
import { PipelineError } from "./errors.ts";
import { errorMessage } from "../errors.ts";

/** Resolves a host name to its IP addresses (A and AAAA). Rejects when the name does not exist. */
export type ResolveHost = (host: string) => Promise<string[]>;

/** What the guard lets through; everything not allowed here is refused. */
export interface AddressPolicy {
  /** Allow 127.0.0.0/8 and ::1 (the local stack's demo site). */
  allowLoopback: boolean;
  /** Allow private, unique-local, CGNAT, link-local and loopback ranges. Cloud metadata stays refused. */
  allowPrivateNetworks: boolean;
}

/** The network policy the pipeline applies under `config` (FETCH_ALLOW_LOOPBACK, FETCH_ALLOW_PRIVATE_NETWORKS). */
export function addressPolicy(
  config: Pick<Config, "FETCH_ALLOW_LOOPBACK" | "FETCH_ALLOW_PRIVATE_NETWORKS">,
): AddressPolicy {
  return {
    allowLoopback: config.FETCH_ALLOW_LOOPBACK,
    allowPrivateNetworks: config.FETCH_ALLOW_PRIVATE_NETWORKS,
  };
}

/**
 * A source's URL as a URL; a string that is none fails the fetch as `parse`.
 * @example
 * sourceUrl("https://www.gov.uk/visa-fees").host; // "www.gov.uk"
 */
export function sourceUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch (error) {
    throw new PipelineError("parse", `invalid URL ${JSON.stringify(raw)}`, { cause: error });
  }
}

/** Kinds of address, from most to least dangerous. */
export type AddressKind =
  | "metadata"
  | "unspecified"
  | "reserved"
  | "loopback"
  | "link_local"
  | "private"
  | "public";

/** Cloud metadata endpoints: never fetched, whatever the policy says. */
const METADATA_ADDRESSES = new Set([
  "169.254.169.254", // AWS, GCP, Azure, OpenStack, DigitalOcean
  "169.254.170.2", // AWS ECS task metadata
  "169.254.169.123", // AWS time sync
  "100.100.100.200", // Alibaba Cloud
  "192.0.0.192", // Oracle Cloud
  "fd00:ec2::254", // AWS IMDS over IPv6
]);

/** Names that mean the metadata service without resolving to it from here. */
const METADATA_NAMES = new Set(["metadata.google.internal", "metadata", "metadata.azure.internal"]);

/**
 * Classifies one IP address literal (IPv4 or IPv6, IPv4-mapped IPv6 unwrapped).
 * @example
 * classifyAddress("169.254.169.254"); // "metadata"
 */
export function classifyAddress(address: string): AddressKind {
  return _memoised(_kinds, address, _classify);
}

/**
 * Addresses and hosts an invocation checked, with what they are: the same few hosts come
 * back source after source, and ipaddr.js's parse and range search took ~60 µs a fetch
 * (classification is a function of the string alone). Emptied when full.
 */
const _MEMO_SIZE = 4096;
const _kinds = new Map<string, AddressKind>();
const _literals = new Map<string, boolean>();

/** `compute(key)`, remembered in `memo` (emptied when it holds `_MEMO_SIZE` keys). */
function _memoised<T>(memo: Map<string, T>, key: string, compute: (key: string) => T): T {
  let value = memo.get(key);
  if (value === undefined) {
    value = compute(key);
    if (memo.size >= _MEMO_SIZE) memo.clear();
    memo.set(key, value);
  }
  return value;
}

/** Whether a host (brackets stripped) is an IP literal, as `ipaddr.isValid` says. */
function _isLiteral(host: string): boolean {
  return _memoised(_literals, host, (h) => ipaddr.isValid(h));
}

function _classify(address: string): AddressKind {
  const bare = address.replace(/^\[|\]$/g, "");
  if (!ipaddr.isValid(bare)) return "reserved";
  const parsed = ipaddr.process(bare); // unwraps ::ffff:a.b.c.d
  const normal = parsed.toNormalizedString();
  if (METADATA_ADDRESSES.has(normal) || METADATA_ADDRESSES.has(parsed.toString())) {
    return "metadata";
  }
  const range = parsed.range();
  switch (range) {
    case "unicast":
      return "public";
    case "unspecified":
      return "unspecified";
    case "loopback":
      return "loopback";
    case "linkLocal":
      return "link_local";
    case "private":
    case "uniqueLocal":
    case "carrierGradeNat":
      return "private";
    default:
      // multicast, broadcast, reserved, documentation ranges, 6to4, teredo, NAT64
      // (rfc6052/rfc6145: may embed any IPv4), benchmarking, as112...: nothing a public
      // policy page is served from.
      return "reserved";
  }
}

/** True when the policy lets a connection to an address of this kind through. */
export function isAllowed(kind: AddressKind, policy: AddressPolicy): boolean {
  switch (kind) {
    case "public":
      return true;
    case "loopback":
      return policy.allowLoopback || policy.allowPrivateNetworks;
    case "private":
    case "link_local":
      return policy.allowPrivateNetworks;
    default:
      return false;
  }
}

/**
 * Thrown by a resolver that cannot work in this runtime (no permission, not supported):
 * the guard then checks IP literals and well-known names only, as without a resolver.
 * A name that does not exist is not this: it is a `dns` failure.
 */
export class ResolverUnavailable extends Error {
  /** Wraps the runtime's refusal. */
  constructor(cause: unknown) {
    super(`DNS resolution unavailable: ${errorMessage(cause)}`, {
      cause,
    });
    this.name = "ResolverUnavailable";
  }
}

/** True for errors that mean "this runtime cannot resolve", not "the name is bad". */
function _unavailable(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotSupported ||
    (error instanceof Error && /not (implemented|supported)/i.test(error.message));
}

/**
 * The default resolver: `Deno.resolveDns` (A and AAAA) when the runtime has it, else
 * `undefined` (then only IP literals and well-known names are checked).
 */
export function defaultResolveHost(): ResolveHost | undefined {
  const deno = (globalThis as { Deno?: { resolveDns?: unknown } }).Deno;
  if (!deno || typeof deno.resolveDns !== "function") return undefined;
  return async (host: string) => {
    const [a, aaaa] = await Promise.allSettled([
      Deno.resolveDns(host, "A"),
      Deno.resolveDns(host, "AAAA"),
    ]);
    const addresses = [
      ...(a.status === "fulfilled" ? a.value : []),
      ...(aaaa.status === "fulfilled" ? aaaa.value : []),
    ];
    if (addresses.length === 0) {
      const reasons = [a, aaaa].flatMap((r) => r.status === "rejected" ? [r.reason] : []);
      if (reasons.length > 0 && reasons.every(_unavailable)) {
        throw new ResolverUnavailable(reasons[0]);
      }
      throw reasons[0] ?? new Error(`no A or AAAA records for ${host}`);
    }
    return addresses;
  };
}

/** Options of {@link checkUrl}. */
export interface CheckUrlOptions {
  policy: AddressPolicy;
  resolveHost?: ResolveHost;
}

/**
 * Refuses (throws a `blocked` or `dns` {@link PipelineError}) a URL whose scheme is not
 * http(s) or whose host is or resolves to an address the policy does not allow.
 * Resolves to the addresses that were checked; an empty list means the name could not be
 * checked in this runtime (no resolver).
 */
export async function checkUrl(url: URL, options: CheckUrlOptions): Promise<string[]> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PipelineError(
      "blocked",
      `refused ${url.protocol} URL: only http and https are fetched`,
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  let addresses: string[];
  if (_isLiteral(host)) {
    addresses = [host];
  } else if (METADATA_NAMES.has(host)) {
    throw new PipelineError("blocked", `refused ${host}: cloud metadata endpoint`);
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    addresses = ["127.0.0.1", "::1"]; // RFC 6761: always loopback, never sent to DNS
  } else if (host === "invalid" || host.endsWith(".invalid")) {
    throw new PipelineError(
      "dns",
      `DNS lookup failed: ${host} does not exist (.invalid is never resolvable)`,
    );
  } else if (options.resolveHost) {
    try {
      addresses = await options.resolveHost(host);
    } catch (error) {
      if (error instanceof ResolverUnavailable) return []; // cannot check here: as without a resolver
      const detail = errorMessage(error);
      throw new PipelineError("dns", `DNS lookup failed for ${host}: ${detail}`, { cause: error });
    }
    if (addresses.length === 0) {
      throw new PipelineError("dns", `DNS lookup failed for ${host}: no addresses`);
    }
  } else {
    return []; // no resolver in this runtime: the name cannot be checked here
  }
  for (const address of addresses) {
    const kind = classifyAddress(address);
    if (!isAllowed(kind, options.policy)) {
      const via = address === host ? "" : ` (resolves to ${address})`;
      throw new PipelineError(
        "blocked",
        `refused ${host}${via}: ${kind.replace("_", "-")} address not allowed`,
      );
    }
  }
  return addresses;
}

/**
 * The policy check of a URL that needs no DNS, for the API (a source URL or an alert
 * target at save time): `null` when the scheme is http(s) and the host is a name (checked
 * again, resolved, when it is fetched) or an IP literal the policy allows; else why not.
 * @example
 * urlPolicyError("http://169.254.169.254/", { allowLoopback: false, allowPrivateNetworks: false });
 * // "refused 169.254.169.254: metadata address not allowed"
 */
export function urlPolicyError(url: string, policy: AddressPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a valid URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `refused ${parsed.protocol} URL: only http and https are fetched`;
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  if (METADATA_NAMES.has(host)) return `refused ${host}: cloud metadata endpoint`;
  if (host === "invalid" || host.endsWith(".invalid")) return `${host} can never be resolved`;
  const addresses = ipaddr.isValid(host)
    ? [host]
    : host === "localhost" || host.endsWith(".localhost")
    ? ["127.0.0.1"]
    : [];
  for (const address of addresses) {
    const kind = classifyAddress(address);
    if (!isAllowed(kind, policy)) {
      return `refused ${host}: ${kind.replace("_", "-")} address not allowed`;
    }
  }
  return null;
}
