/**
 * Save-time rules of what operators write (sources and subscriptions), checked with the
 * pipeline's and the alert channels' own code so that what is saved is what will run:
 * - URLs: parsed as the fetcher parses them, host name syntax (the database's
 *   `sources_url_host_valid` check says the same), then the network policy of the address
 *   guard (`checkUrl`: scheme, metadata names, the addresses the host resolves to);
 * - CSS selectors: compiled by cheerio, the engine the HTML extractor selects with;
 * - ignore patterns: compiled by the normaliser's own compiler and rules;
 * - check frequencies: the names of `check_frequencies`.
 * Each rule returns field errors (`{path, message}`) instead of throwing.
 * @module
 */
import { loadDomPath } from "../pipeline/extract.ts";
import { type AddressPolicy, checkUrl, type ResolveHost } from "../pipeline/address_guard.ts";
import { PipelineError } from "../pipeline/errors.ts";
import { MAX_IGNORE_PATTERNS, validateIgnorePatterns } from "../pipeline/normalise.ts";

/** One field error of a 400 answer. */
export interface FieldError {
  /** Dotted path of the field, e.g. `ignore_patterns.1`. */
  path: string;
  message: string;
}

/** Thrown when what an operator sent breaks a save-time rule; the API answers 400. */
export class InvalidFieldsError extends Error {
  /** `details` are the field errors; the message summarises the first. */
  constructor(readonly details: FieldError[], what = "Invalid request body") {
    const first = details[0];
    super(
      `${what}: ${first ? `${first.path}: ${first.message}` : "it breaks a rule"}${
        details.length > 1 ? ` (and ${details.length - 1} more)` : ""
      }`,
    );
    this.name = "InvalidFieldsError";
  }
}

/** What the URL rules need: the network policy in force and a resolver. */
export interface UrlRuleDeps {
  policy: AddressPolicy;
  /** Resolver of the address guard; without one only literals and well-known names are checked. */
  resolveHost?: ResolveHost;
}

/** The network policy the pipeline applies under a config (defined beside the guard). */
export { addressPolicy } from "../pipeline/address_guard.ts";

/** Longest URL a source or webhook may have (the database checks the same). */
export const MAX_URL_LENGTH = 2048;

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i;
const IPV6_LITERAL = /^\[[0-9a-f:.]+\]$/i;

/**
 * Parses an http(s) URL as the fetcher will and checks its host's syntax; returns the
 * normalised URL, or the reason it cannot be fetched.
 */
export function parseHttpUrl(raw: string): { url: URL } | { error: string } {
  if (raw.length > MAX_URL_LENGTH) return { error: `must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: "is not a URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: `must be http or https, not ${url.protocol.replace(/:$/, "")}` };
  }
  if (url.username !== "" || url.password !== "") {
    return { error: "must not carry credentials (user:password@)" };
  }
  if (url.hostname === "" || !(HOST_NAME.test(url.hostname) || IPV6_LITERAL.test(url.hostname))) {
    return { error: "has no valid host name" };
  }
  if (url.href.length > MAX_URL_LENGTH) {
    return { error: `must be at most ${MAX_URL_LENGTH} characters` };
  }
  return { url };
}

/**
 * The reason the pipeline would refuse to fetch `raw` under the network policy, or null:
 * syntax ({@link parseHttpUrl}), then the address guard (metadata endpoints, private or
 * loopback addresses the policy refuses, names that do not resolve).
 * @example
 * await urlRuleError("http://169.254.169.254/", { policy }); // "refused 169.254.169.254: metadata address not allowed"
 */
export async function urlRuleError(raw: string, deps: UrlRuleDeps): Promise<string | null> {
  const parsed = parseHttpUrl(raw);
  if ("error" in parsed) return parsed.error;
  try {
    await checkUrl(parsed.url, { policy: deps.policy, resolveHost: deps.resolveHost });
    return null;
  } catch (error) {
    if (error instanceof PipelineError) return error.message;
    throw error;
  }
}

/** Longest CSS selector (the database checks the same). */
export const MAX_SELECTOR_LENGTH = 500;

/**
 * The reason cheerio (the engine the HTML extractor selects with) cannot use `selector`,
 * or null (asynchronous: the engine is loaded on first use, see `loadDomPath`). A string cheerio would take for HTML markup (it starts with `<`) is refused too.
 */
export async function cssSelectorError(selector: string): Promise<string | null> {
  if (selector.trim() === "") return "must not be blank";
  if (selector.length > MAX_SELECTOR_LENGTH) {
    return `must be at most ${MAX_SELECTOR_LENGTH} characters`;
  }
  // The extractor's own check (cheerio-select), loaded on first use as the extractor does.
  return (await loadDomPath()).cssSelectorError(selector);
}

/**
 * Field errors of ignore patterns, compiled by the normaliser's own rules (JavaScript
 * regular expressions, optionally `/body/flags`, 1 to 500 characters, at most 50, none
 * matching every line). Paths are `ignore_patterns` or `ignore_patterns.<index>`.
 */
export function ignorePatternFieldErrors(patterns: readonly string[]): FieldError[] {
  const errors: FieldError[] = [];
  if (patterns.length > MAX_IGNORE_PATTERNS) {
    errors.push({
      path: "ignore_patterns",
      message: `at most ${MAX_IGNORE_PATTERNS} ignore patterns are allowed, got ${patterns.length}`,
    });
    return errors;
  }
  patterns.forEach((pattern, index) => {
    for (const message of validateIgnorePatterns([pattern])) {
      errors.push({
        path: `ignore_patterns.${index}`,
        message: message.replace(/^ignore pattern 1 /, ""),
      });
    }
  });
  return errors;
}

/** The fields of a source an operator writes (all optional: a PATCH sends some). */
export interface SourceFields {
  name?: string;
  url?: string;
  active?: boolean;
  check_frequency?: string;
  css_selector?: string | null;
  ignore_patterns?: string[];
}

/** What {@link sourceFieldErrors} needs. */
export interface SourceRuleDeps extends UrlRuleDeps {
  /** Names of the known check frequencies (`check_frequencies.name`). */
  frequencies: () => Promise<readonly string[]>;
}

/** Every rule broken by the fields present in `fields`. */
export async function sourceFieldErrors(
  fields: SourceFields,
  deps: SourceRuleDeps,
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (fields.url !== undefined) {
    const error = await urlRuleError(fields.url, deps);
    if (error !== null) errors.push({ path: "url", message: `URL ${error}` });
  }
  if (fields.css_selector !== undefined && fields.css_selector !== null) {
    const error = await cssSelectorError(fields.css_selector);
    if (error !== null) errors.push({ path: "css_selector", message: `CSS selector ${error}` });
  }
  if (fields.ignore_patterns !== undefined) {
    errors.push(...ignorePatternFieldErrors(fields.ignore_patterns));
  }
  if (fields.check_frequency !== undefined) {
    const known = await deps.frequencies();
    if (!known.includes(fields.check_frequency)) {
      errors.push({
        path: "check_frequency",
        message: `Unknown check frequency ${JSON.stringify(fields.check_frequency)}: use one of ${
          known.join(", ")
        }`,
      });
    }
  }
  return errors;
}

/** The fields of a subscription an operator writes. */
export interface SubscriptionFields {
  channel?: "webhook" | "slack" | "email";
  target?: string;
  secret?: string | null;
}

/** Hosts of Slack incoming webhooks. */
export const SLACK_WEBHOOK_HOSTS = ["hooks.slack.com"] as const;

const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Every channel rule broken by a subscription's channel and target: a webhook URL through
 * the network policy, a Slack incoming-webhook URL (https on hooks.slack.com; a loopback
 * URL too where the policy allows loopback, for the local stack's sink), an e-mail address
 * (the channel's own test). Needs both `channel` and `target` of the row after the write.
 */
export async function subscriptionFieldErrors(
  fields: Required<Pick<SubscriptionFields, "channel" | "target">> & SubscriptionFields,
  deps: UrlRuleDeps,
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const { channel, target } = fields;
  if (channel === "email") {
    if (target.length > 320 || !EMAIL_ADDRESS.test(target)) {
      errors.push({ path: "target", message: "Target is not an e-mail address" });
    }
  } else {
    const error = await urlRuleError(target, deps);
    if (error !== null) {
      errors.push({ path: "target", message: `Target URL ${error}` });
    } else if (channel === "slack") {
      const url = new URL(target);
      const slackHost = url.protocol === "https:" &&
        (SLACK_WEBHOOK_HOSTS as readonly string[]).includes(url.hostname);
      const localSink = deps.policy.allowLoopback &&
        ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
      if (!slackHost && !localSink) {
        errors.push({
          path: "target",
          message: "Target must be a Slack incoming-webhook URL (https://hooks.slack.com/...)",
        });
      }
    }
  }
  if (fields.secret !== undefined && fields.secret !== null && channel !== "webhook") {
    errors.push({ path: "secret", message: "Only webhook subscriptions are signed" });
  }
  return errors;
}
