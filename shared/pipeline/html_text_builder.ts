/**
 * Lays out text the way html-to-text 10 does with the options the extractor uses (no word
 * wrap, no upper-casing): a stack of blocks, each keeping its finished text, the line being
 * built and how many line breaks it owes the next block. Blocks ask for leading and
 * trailing line breaks and the larger of two neighbours' wins; inline text has its HTML
 * whitespace folded into single spaces. The streaming extractor drives it from parser
 * events instead of a DOM walk, so both extractor paths lay out text identically.
 *
 * Semantics kept on purpose, because they decide the line structure: a block whose first
 * content is another block takes that block's leading line breaks; whitespace-only text
 * right after a block is ignored; `<pre>` text is kept raw; list item prefixes are padded
 * to the longest prefix of their list and continuation lines are indented by as much.
 * @module
 */

/**
 * html-to-text's default `whitespaceCharacters` (not U+00A0) separate words; a run of
 * them other than a single space becomes one space.
 */
const WS_TO_FOLD = /[ \t\r\n\f\u200b]{2,}|[\t\r\n\f\u200b]/g;
const NEWLINES = ["", "\n", "\n\n", "\n\n\n", "\n\n\n\n"];

function _newlines(n: number): string {
  return NEWLINES[n] ?? "\n".repeat(n);
}

function _isWs(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13 || code === 12 ||
    code === 0x200b;
}

/** One finished list item, waiting for its list to know the longest prefix. */
interface _ListItem {
  prefix: string;
  text: string;
  leading: number;
  trailing: number;
}

/** A block, list or list item under construction. */
class _Block {
  /** Text of finished child blocks (and raw `<pre>` text). */
  raw = "";
  /** Inline text after `raw`, lines joined with "\n", words with " ". */
  inline = "";
  /** The current inline line already has a word. */
  lineHasWords = false;
  /** Whitespace was seen after the last word, so the next word starts with a space. */
  stashedSpace = false;
  /** Line breaks owed before whatever comes next (from a closed child block). */
  stashedLineBreaks = 0;
  leadingLineBreaks: number;
  isPre: boolean;
  /** Finished items, when this block is a list. */
  items: _ListItem[] | null = null;
  /** The item prefix, when this block is a list item. */
  prefix = "";

  constructor(leadingLineBreaks: number, isPre: boolean) {
    this.leadingLineBreaks = leadingLineBreaks;
    this.isPre = isPre;
  }

  text(): string {
    return this.inline === "" ? this.raw : this.raw + this.inline;
  }

  startNewLine(n: number): void {
    this.inline += _newlines(n);
    this.lineHasWords = false;
  }

  /** Appends a finished child's text after the larger of the two line-break demands. */
  addText(text: string, leading: number, trailing: number): void {
    const parentText = this.text();
    const lineBreaks = Math.max(this.stashedLineBreaks, leading);
    this.inline = "";
    this.lineHasWords = false;
    if (parentText) {
      this.raw = parentText + _newlines(lineBreaks) + text;
    } else {
      this.raw = text;
      this.leadingLineBreaks = lineBreaks;
    }
    this.stashedLineBreaks = trailing;
  }
}

/**
 * Builds text from block and inline content, as html-to-text's BlockTextBuilder does for
 * the formatters the extractor uses.
 * @example
 * const b = new HtmlTextBuilder();
 * b.openBlock(2); b.addInline("Fee:  £719 "); b.closeBlock(2);
 * b.toString(); // "Fee: £719"
 */
export class HtmlTextBuilder {
  #stack: _Block[] = [new _Block(1, false)];
  #top: _Block = this.#stack[0] as _Block;

  /** Adds text: whitespace runs become one space (raw inside `<pre>`). */
  addInline(text: string): void {
    const top = this.#top;
    if (top.isPre) {
      top.raw += text;
      return;
    }
    const length = text.length;
    if (length === 0) return;
    let first = 0;
    while (first < length && _isWs(text.charCodeAt(first))) first++;
    if (first === length) {
      // Whitespace only: it only matters as the space before the next word.
      if (top.stashedLineBreaks === 0) top.stashedSpace = true;
      return;
    }
    if (top.stashedLineBreaks) top.startNewLine(top.stashedLineBreaks);
    let last = length - 1;
    while (_isWs(text.charCodeAt(last))) last--;
    const trimmed = first === 0 && last === length - 1 ? text : text.slice(first, last + 1);
    const words = trimmed.replace(WS_TO_FOLD, " ");
    if (top.lineHasWords && (top.stashedSpace || first > 0)) top.inline += " " + words;
    else top.inline += words;
    top.lineHasWords = true;
    top.stashedSpace = last < length - 1;
    top.stashedLineBreaks = 0;
  }

  /** A `<br>`: ends the current line. */
  addLineBreak(): void {
    const top = this.#top;
    if (top.isPre) top.raw += "\n";
    else top.startNewLine(1);
  }

  /** Starts a block that wants `leading` line breaks before it. */
  openBlock(leading: number, isPre = false): void {
    this.#push(new _Block(leading, isPre || this.#top.isPre));
  }

  /** Ends the current block; `transform` rewrites its text (blockquote markers). */
  closeBlock(trailing: number, transform?: (text: string) => string): void {
    const block = this.#pop();
    const text = transform ? transform(block.text()) : block.text();
    this.#top.addText(text, block.leadingLineBreaks, Math.max(block.stashedLineBreaks, trailing));
  }

  /** Starts a list (its items are laid out when it closes). */
  openList(leading: number): void {
    const list = new _Block(leading, this.#top.isPre);
    list.items = [];
    this.#push(list);
  }

  /** Starts an item of the current list, with its prefix (`" * "`, `" 3. "`, or ""). */
  openListItem(prefix: string): void {
    const item = new _Block(1, this.#top.isPre);
    item.prefix = prefix;
    this.#push(item);
  }

  /** Ends the current list item. */
  closeListItem(): void {
    const item = this.#pop();
    this.#top.items?.push({
      prefix: item.prefix,
      text: item.text(),
      leading: item.leadingLineBreaks,
      trailing: Math.max(item.stashedLineBreaks, 1),
    });
  }

  /** Ends the current list: pads prefixes to the longest one and adds the items. */
  closeList(trailing: number): void {
    const list = this.#pop();
    const items = list.items ?? [];
    let width = 0;
    for (const item of items) if (item.prefix.length > width) width = item.prefix.length;
    const indent = `\n${" ".repeat(width)}`;
    for (const item of items) {
      const body = item.text.includes("\n") ? item.text.replace(/\n/g, indent) : item.text;
      list.addText(item.prefix.padEnd(width) + body, item.leading, item.trailing);
    }
    const text = list.text();
    if (text) this.#top.addText(text, list.leadingLineBreaks, trailing);
  }

  /** The text built so far (all blocks should be closed). */
  toString(): string {
    return (this.#stack[0] as _Block).text();
  }

  #push(block: _Block): void {
    this.#stack.push(block);
    this.#top = block;
  }

  #pop(): _Block {
    const block = this.#stack.pop() as _Block;
    this.#top = this.#stack[this.#stack.length - 1] as _Block;
    return block;
  }
}
