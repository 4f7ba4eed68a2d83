/**
 * Validation of a channel's HTTP target (webhook and Slack URLs, the email API URL).
 * @module
 */
import { PermanentDeliveryError } from "./channel.ts";

/**
 * Returns the normalised http(s) URL of a target; throws {@link PermanentDeliveryError}
 * when it is not one, since such an alert can never be delivered.
 */
export function httpTarget(target: string, what: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new PermanentDeliveryError(`${what} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new PermanentDeliveryError(`${what} must be http(s), not ${url.protocol}`);
  }
  return url.href;
}
