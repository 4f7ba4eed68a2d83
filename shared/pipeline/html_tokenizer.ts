/**
 * htmlparser2's tokenizer with its runs of plain text read by `indexOf` instead of one
 * character at a time. With entities decoded (`decodeEntities: true`, what the extractor
 * needs), htmlparser2 10.1.0 steps through every character of text and of quoted attribute
 * values in its state loop, though those states do nothing for a character other than `<`
 * (text), the closing quote (attribute values) and `&` (both); its `fastForwardTo` is a
 * `charCodeAt` loop. This subclass jumps from such a character straight to the next one
 * that matters, found by the engine's string search, and leaves every other character to
 * the library's own state functions: the same callbacks with the same arguments in the
 * same order (tests/unit/pipeline/html_tokenizer_test.ts compares the two over generated
 * pages), for a third of the tokenizer's CPU on a text-heavy page
 * (docs/benchmarks.md, "Function CPU per source, session 6").
 *
 * It overrides three members htmlparser2 declares private (`stateText`,
 * `handleInAttributeValue`, `fastForwardTo`) and reads three fields (`buffer`, `offset`,
 * `index`): they are the pinned version's (deno.json); a version whose tokenizer lacks
 * them fails the test above.
 * @module
 */
import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";

const LT = 0x3c; // <
const AMP = 0x26; // &

/** The tokenizer's members the subclass reads or replaces (htmlparser2 10.1.0). */
interface _TokenizerInternals {
  buffer: string;
  offset: number;
  index: number;
  readonly decodeEntities: boolean;
  stateText(c: number): void;
  handleInAttributeValue(c: number, quote: number): void;
  fastForwardTo(c: number): boolean;
}

const base = Tokenizer.prototype as unknown as _TokenizerInternals;
const baseStateText = base.stateText;
const baseAttributeValue = base.handleInAttributeValue;

/** Where the next `&` of a buffer is, found once per buffer position instead of per run. */
interface _AmpCache {
  ampBuffer: string | null;
  ampAt: number;
}

/** The next `&` at or after `from` in the tokenizer's buffer (its length when none). */
function _nextAmp(t: _TokenizerInternals & _AmpCache, from: number): number {
  if (t.ampBuffer !== t.buffer || t.ampAt < from) {
    const at = t.buffer.indexOf("&", from);
    t.ampAt = at < 0 ? t.buffer.length : at;
    t.ampBuffer = t.buffer;
  }
  return t.ampAt;
}

/**
 * {@link Tokenizer} with plain runs of text and quoted attribute values skipped by string
 * search; same events. Construct it as the library's.
 * @example
 * new FastTokenizer({ decodeEntities: true }, callbacks).write(html);
 */
export class FastTokenizer extends Tokenizer {
  /** Cache of {@link _nextAmp}. */
  ampBuffer: string | null = null;
  ampAt = -1;

  constructor(options: { xmlMode?: boolean; decodeEntities?: boolean }, cbs: TokenizerCallbacks) {
    super(options, cbs);
  }
}

type _Fast = _TokenizerInternals & _AmpCache;

Object.defineProperties(FastTokenizer.prototype, {
  // Text: nothing happens until `<` or `&`; the parse loop adds 1 to `index` after the state.
  stateText: {
    value: function stateText(this: _Fast, c: number): void {
      if (c === LT || c === AMP || !this.decodeEntities) return baseStateText.call(this, c);
      const from = this.index - this.offset + 1;
      const lt = this.buffer.indexOf("<", from);
      const stop = Math.min(lt < 0 ? this.buffer.length : lt, _nextAmp(this, from));
      this.index = stop - 1 + this.offset;
    },
  },
  // A quoted attribute value: nothing happens until its quote or `&`.
  handleInAttributeValue: {
    value: function handleInAttributeValue(this: _Fast, c: number, quote: number): void {
      if (c === quote || c === AMP || !this.decodeEntities) {
        return baseAttributeValue.call(this, c, quote);
      }
      const from = this.index - this.offset + 1;
      const q = this.buffer.indexOf(quote === 0x22 ? '"' : "'", from);
      const stop = Math.min(q < 0 ? this.buffer.length : q, _nextAmp(this, from));
      this.index = stop - 1 + this.offset;
    },
  },
  // The library's loop, as one search: true at the next `c`, else at the buffer's last index.
  fastForwardTo: {
    value: function fastForwardTo(this: _Fast, c: number): boolean {
      const at = this.buffer.indexOf(String.fromCharCode(c), this.index - this.offset + 1);
      if (at >= 0) {
        this.index = at + this.offset;
        return true;
      }
      this.index = this.buffer.length + this.offset - 1;
      return false;
    },
  },
});
