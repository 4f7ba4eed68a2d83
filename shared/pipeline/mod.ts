/**
 * The fetch pipeline: `runFetchPipeline(source, deps)` and the parts it is built from.
 * @module
 */
export * from "./pipeline.ts";
export { HostLimiter, type HostLimiterOptions } from "./host_limiter.ts";
export { MemoryPipelineStore } from "./memory_store.ts";
export { compileIgnorePatterns, normaliseText, validateIgnorePatterns } from "./normalise.ts";
export { classifyAddress, defaultResolveHost, type ResolveHost } from "./address_guard.ts";
export { PipelineError } from "./errors.ts";
export { failureBookkeeping, successBookkeeping } from "./bookkeeping.ts";
