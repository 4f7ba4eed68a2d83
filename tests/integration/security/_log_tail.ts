/**
 * What the local stack's processes logged since a point in time: the size of every
 * `.stack/logs/*.log` is recorded first, and only the bytes written after it are scanned
 * (in chunks, since the Postgres log of a busy stack grows by gigabytes).
 * @module
 */

/** File name → size in bytes when recorded. */
export type LogOffsets = Map<string, number>;

/** One occurrence of a needle in the new bytes of a log file. */
export interface LogHit {
  file: string;
  needle: string;
  /** Byte offset in the file. */
  offset: number;
}

/**
 * Records the current size of every `*.log` file in `dir`.
 * @example
 * const offsets = await logOffsets(LOG_DIR);
 */
export async function logOffsets(dir: string): Promise<LogOffsets> {
  const offsets: LogOffsets = new Map();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".log")) {
      offsets.set(entry.name, (await Deno.stat(`${dir}/${entry.name}`)).size);
    }
  }
  return offsets;
}

/** The new bytes of each log file since `offsets`, as latin1 text (byte-exact), per file. */
export async function newLogText(dir: string, offsets: LogOffsets): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await _eachNewChunk(dir, offsets, 0, (file, text) => {
    out.set(file, (out.get(file) ?? "") + text);
  }, 8 * 1024 * 1024);
  return out;
}

/**
 * Finds every needle in the bytes written to `dir/*.log` since `offsets` (files created
 * since are read whole). Needles are matched byte-exact (ASCII).
 */
export async function scanNewLogBytes(
  dir: string,
  offsets: LogOffsets,
  needles: string[],
): Promise<LogHit[]> {
  const hits: LogHit[] = [];
  const overlap = Math.max(0, ...needles.map((n) => n.length)) - 1;
  await _eachNewChunk(dir, offsets, overlap, (file, text, base) => {
    for (const needle of needles) {
      for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
        const offset = base + i;
        if (!hits.some((h) => h.file === file && h.needle === needle && h.offset === offset)) {
          hits.push({ file, needle, offset });
        }
      }
    }
  });
  return hits;
}

/** Calls `fn` with consecutive chunks (each starting `overlap` bytes before the previous end). */
async function _eachNewChunk(
  dir: string,
  offsets: LogOffsets,
  overlap: number,
  fn: (file: string, text: string, base: number) => void,
  limitPerFile = Number.MAX_SAFE_INTEGER,
): Promise<void> {
  const decoder = new TextDecoder("latin1");
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".log")) continue;
    const path = `${dir}/${entry.name}`;
    const start = offsets.get(entry.name) ?? 0;
    const end = Math.min((await Deno.stat(path)).size, start + limitPerFile);
    if (end <= start) continue;
    const file = await Deno.open(path, { read: true });
    try {
      const buf = new Uint8Array(4 * 1024 * 1024);
      let pos = start;
      let carry = "";
      while (pos < end) {
        await file.seek(pos, Deno.SeekMode.Start);
        const n = await file.read(buf.subarray(0, Math.min(buf.length, end - pos)));
        if (n === null || n === 0) break;
        const text = carry + decoder.decode(buf.subarray(0, n));
        fn(entry.name, text, pos - carry.length);
        carry = overlap > 0 ? text.slice(-overlap) : "";
        pos += n;
      }
    } finally {
      file.close();
    }
  }
}
