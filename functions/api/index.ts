// Entry point of the `api` edge function: wires the real dependencies and serves the app.
import { createApp } from "./app.ts";
import { realDeps } from "./deps.ts";

Deno.serve(createApp(await realDeps()).fetch);
