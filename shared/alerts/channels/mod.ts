/**
 * The delivery channels by name.
 * @module
 */
import type { AlertChannelName } from "../types.ts";
import type { AlertChannel } from "./channel.ts";
import { emailChannel } from "./email.ts";
import { slackChannel } from "./slack.ts";
import { webhookChannel } from "./webhook.ts";

/** Every channel, keyed by `subscriptions.channel`. */
export const CHANNELS: Readonly<Record<AlertChannelName, AlertChannel>> = {
  webhook: webhookChannel,
  slack: slackChannel,
  email: emailChannel,
};

export type { AlertChannel, ChannelContext, HttpDelivery } from "./channel.ts";
export { PermanentDeliveryError } from "./channel.ts";
