/**
 * The interface every delivery channel implements: turn an {@link AlertMessage} into
 * one HTTP request. Sending, timeouts and error classification are shared
 * (`../http_delivery.ts`), so channels only differ in what they post.
 * @module
 */
import type { AlertMessage } from "../message.ts";
import type { AlertChannelName, AlertConfig, AlertSubscription } from "../types.ts";

/** What a channel may use while rendering. */
export interface ChannelContext {
  config: AlertConfig;
  /** Time of this attempt (webhook timestamps). */
  now: Date;
  /** Hex HMAC-SHA256 of a body with the subscription's secret, computed by the store. */
  sign(body: string): Promise<string>;
}

/** One HTTP POST ready to send. */
export interface HttpDelivery {
  url: string;
  headers: Record<string, string>;
  body: string;
  /**
   * 4xx statuses that are not the receiver refusing this alert for good (for example the
   * email API refusing our key): retried instead of dead. 408 and 429 always are.
   */
  retryableStatuses?: readonly number[];
}

/** A delivery channel: webhook, slack or email. */
export interface AlertChannel {
  readonly name: AlertChannelName;
  /** Builds the request for one alert to one subscription. */
  render(
    message: AlertMessage,
    subscription: AlertSubscription,
    context: ChannelContext,
  ): Promise<HttpDelivery>;
}

/** Thrown by a channel when the alert can never be delivered (bad target, no config). */
export class PermanentDeliveryError extends Error {
  /** Creates the error; the message says what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "PermanentDeliveryError";
  }
}
