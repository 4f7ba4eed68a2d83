/**
 * Source URLs as alerts show them: an operator may monitor a page through a link that
 * carries a credential (a token, an API key, a signed URL's signature), and alerts go to
 * third-party inboxes and channels. The rule: userinfo (`user:password@`) is dropped, and
 * so is every query or fragment parameter whose name says it is a credential (token, key,
 * secret, password, signature, auth, session, credential, jwt, code, …, in any case and
 * with any prefix or suffix, e.g. `api_key`, `X-Amz-Signature`, `access_token`) or whose
 * value looks like one (a JWT, or 24+ characters mixing letters and digits). The other
 * parameters stay, so the link still leads to the page where the page does not need the
 * credential. A fragment that is not `name=value` pairs stays as it is.
 * @module
 */

const SECRET_NAME =
  /token|key|secret|passw|pwd|signature|^sig$|sig_|_sig|auth|session|^sid$|credential|jwt|^code$|ticket|nonce|otp|hmac|bearer|private/i;
const JWT = /^ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./;

/** True when a value looks like a credential whatever its name. */
function _secretValue(value: string): boolean {
  if (JWT.test(value)) return true;
  return value.length >= 24 && /[A-Za-z]/.test(value) && /\d/.test(value) &&
    /^[A-Za-z0-9_\-+/=.%~]+$/.test(value);
}

function _filter(params: URLSearchParams): { kept: URLSearchParams; dropped: number } {
  const kept = new URLSearchParams();
  let dropped = 0;
  for (const [name, value] of params) {
    if (SECRET_NAME.test(name) || _secretValue(value)) dropped++;
    else kept.append(name, value);
  }
  return { kept, dropped };
}

/**
 * The URL without credentials (see the module doc); an unparsable URL is returned as
 * `(invalid URL)`.
 * @example
 * redactSourceUrl("https://u:p@gov.example/rules?lang=en&access_token=abc"); // "https://gov.example/rules?lang=en"
 */
export function redactSourceUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "(invalid URL)";
  }
  u.username = "";
  u.password = "";
  if (u.search) {
    const { kept, dropped } = _filter(u.searchParams);
    if (dropped > 0) u.search = kept.toString();
  }
  const fragment = u.hash.slice(1);
  if (fragment.includes("=")) {
    const { kept, dropped } = _filter(new URLSearchParams(fragment));
    if (dropped > 0) u.hash = kept.toString();
  }
  return u.href;
}
