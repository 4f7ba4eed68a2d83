/**
 * HTML5's quirks mode, decided by the doctype (the same lists as parse5 and browsers).
 * The extractor needs it for one rule: in quirks mode a `<table>` does not end an open
 * `<p>`, which changes where text around the table ends up.
 * @module
 */

const QUIRKS_PUBLIC_ID_PREFIXES = [
  "+//silmaril//dtd html pro v0r11 19970101//",
  "-//as//dtd html 3.0 aswedit + extensions//",
  "-//advasoft ltd//dtd html 3.0 aswedit + extensions//",
  "-//ietf//dtd html 2.0 level 1//",
  "-//ietf//dtd html 2.0 level 2//",
  "-//ietf//dtd html 2.0 strict level 1//",
  "-//ietf//dtd html 2.0 strict level 2//",
  "-//ietf//dtd html 2.0 strict//",
  "-//ietf//dtd html 2.0//",
  "-//ietf//dtd html 2.1e//",
  "-//ietf//dtd html 3.0//",
  "-//ietf//dtd html 3.2 final//",
  "-//ietf//dtd html 3.2//",
  "-//ietf//dtd html 3//",
  "-//ietf//dtd html level 0//",
  "-//ietf//dtd html level 1//",
  "-//ietf//dtd html level 2//",
  "-//ietf//dtd html level 3//",
  "-//ietf//dtd html strict level 0//",
  "-//ietf//dtd html strict level 1//",
  "-//ietf//dtd html strict level 2//",
  "-//ietf//dtd html strict level 3//",
  "-//ietf//dtd html strict//",
  "-//ietf//dtd html//",
  "-//metrius//dtd metrius presentational//",
  "-//microsoft//dtd internet explorer 2.0 html strict//",
  "-//microsoft//dtd internet explorer 2.0 html//",
  "-//microsoft//dtd internet explorer 2.0 tables//",
  "-//microsoft//dtd internet explorer 3.0 html strict//",
  "-//microsoft//dtd internet explorer 3.0 html//",
  "-//microsoft//dtd internet explorer 3.0 tables//",
  "-//netscape comm. corp.//dtd html//",
  "-//netscape comm. corp.//dtd strict html//",
  "-//o'reilly and associates//dtd html 2.0//",
  "-//o'reilly and associates//dtd html extended 1.0//",
  "-//o'reilly and associates//dtd html extended relaxed 1.0//",
  "-//sq//dtd html 2.0 hotmetal + extensions//",
  "-//softquad software//dtd hotmetal pro 6.0::19990601::extensions to html 4.0//",
  "-//softquad//dtd hotmetal pro 4.0::19971010::extensions to html 4.0//",
  "-//spyglass//dtd html 2.0 extended//",
  "-//sun microsystems corp.//dtd hotjava html//",
  "-//sun microsystems corp.//dtd hotjava strict html//",
  "-//w3c//dtd html 3 1995-03-24//",
  "-//w3c//dtd html 3.2 draft//",
  "-//w3c//dtd html 3.2 final//",
  "-//w3c//dtd html 3.2//",
  "-//w3c//dtd html 3.2s draft//",
  "-//w3c//dtd html 4.0 frameset//",
  "-//w3c//dtd html 4.0 transitional//",
  "-//w3c//dtd html experimental 19960712//",
  "-//w3c//dtd html experimental 970421//",
  "-//w3c//dtd w3 html//",
  "-//w3o//dtd w3 html 3.0//",
  "-//webtechs//dtd mozilla html 2.0//",
  "-//webtechs//dtd mozilla html//",
];
/** Also quirks when the doctype has no system identifier. */
const QUIRKS_WITHOUT_SYSTEM_ID_PREFIXES = [
  "-//w3c//dtd html 4.01 frameset//",
  "-//w3c//dtd html 4.01 transitional//",
];
const QUIRKS_PUBLIC_IDS = new Set([
  "-//w3o//dtd w3 html strict 3.0//en//",
  "-/w3c/dtd html 4.0 transitional/en",
  "html",
]);
const QUIRKS_SYSTEM_ID = "http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd";

const DOCTYPE =
  /^doctype(?:[ \t\n\f\r]+([^ \t\n\f\r]+)(?:[ \t\n\f\r]+(?:public[ \t\n\f\r]*(?:"([^"]*)"|'([^']*)')(?:[ \t\n\f\r]*(?:"([^"]*)"|'([^']*)'))?|system[ \t\n\f\r]*(?:"([^"]*)"|'([^']*)')))?)?[ \t\n\f\r]*$/i;

/**
 * True when a doctype puts the document in quirks mode. `declaration` is the text between
 * `<!` and `>`, e.g. `DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"`.
 * Doctypes that HTML5 reads as broken (force-quirks) count as quirks.
 * @example
 * isQuirksDoctype("DOCTYPE html"); // false
 * isQuirksDoctype('DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"'); // true
 */
export function isQuirksDoctype(declaration: string): boolean {
  const m = DOCTYPE.exec(declaration);
  if (!m) return true;
  const name = m[1]?.toLowerCase();
  if (name !== "html") return true;
  const publicId = (m[2] ?? m[3])?.toLowerCase();
  const systemId = m[4] ?? m[5] ?? m[6] ?? m[7];
  if (systemId !== undefined && systemId.toLowerCase() === QUIRKS_SYSTEM_ID) return true;
  if (publicId === undefined) return false;
  if (QUIRKS_PUBLIC_IDS.has(publicId)) return true;
  if (QUIRKS_PUBLIC_ID_PREFIXES.some((prefix) => publicId.startsWith(prefix))) return true;
  return systemId === undefined &&
    QUIRKS_WITHOUT_SYSTEM_ID_PREFIXES.some((prefix) => publicId.startsWith(prefix));
}
