/**
 * The alert engine: outbox rows per (change, subscription), delivered by webhook, Slack
 * or email with retries, plus operational alerts (source failing/recovered, run missed).
 * @module
 */
export {
  bindAlertEngine,
  deliverAlerts,
  deliverOperationalAlert,
  handleSourceHealth,
  retryPendingAlerts,
} from "./engine.ts";
export type { BoundAlertEngine } from "./engine.ts";
export { MemoryAlertStore } from "./memory_store.ts";
export type { MemoryAlertStoreSeed, MemorySource } from "./memory_store.ts";
export {
  hmacSha256Hex,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from "./signature.ts";
export type * from "./types.ts";
