/**
 * CPU clocks of this process from `/proc`, for the benches that run under the Deno the function
 * workers use (edge_boot.ts, edge_imports.ts, hot_path.ts, stages.ts).
 * @module
 */

/** CPU time of the calling thread (the isolate's), in ms. */
export const threadMs = (): number =>
  Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]) / 1e6;

/** CPU of every thread of this process (the runtime's GC, compiler and I/O threads too), in ms. */
export const processMs = (): number =>
  [...Deno.readDirSync("/proc/self/task")].reduce((t, e) => {
    try {
      return t + Number(Deno.readTextFileSync(`/proc/self/task/${e.name}/schedstat`).split(" ")[0]);
    } catch {
      return t; // a thread that ended
    }
  }, 0) / 1e6;
