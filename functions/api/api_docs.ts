/**
 * `/docs`: Swagger UI for the OpenAPI document, served by the function itself from the
 * pinned npm package `swagger-ui-dist` (deno.json), so the page works offline and loads no
 * foreign script where people paste admin tokens. A Content-Security-Policy allows only
 * this function's own scripts, styles and requests (Swagger UI sets inline style
 * attributes, hence `'unsafe-inline'` for styles only).
 *
 * The assets are read from the package's files (`import.meta.resolve`) once and kept in
 * memory; on a hosted project they must be bundled with the function
 * (`static_files` in supabase/config.toml). Where they cannot be found (a bundle without an
 * import map, as the stack's edge profile boots) an asset answers 503 `unavailable`. Hosted functions rewrite `text/html` answers
 * of GET requests to `text/plain` unless the project has a custom domain (see README).
 * @module
 */
import type { Env, Hono } from "hono";

/** The Content-Security-Policy of the page and its assets. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The package files the page serves, resolved at run time (`import.meta.resolve`), so
 * functions/api/deno.json must map them although nothing imports them statically. */
export const ASSETS: Record<string, { file: string; type: string }> = {
  "swagger-ui.css": {
    file: "swagger-ui-dist/swagger-ui.css",
    type: "text/css; charset=utf-8",
  },
  "swagger-ui-bundle.js": {
    file: "swagger-ui-dist/swagger-ui-bundle.js",
    type: "text/javascript; charset=utf-8",
  },
};

/** The page: no inline script (the CSP forbids it); the start-up script is an asset. */
function _page(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="./docs-assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="./docs-assets/swagger-ui-bundle.js"></script>
<script src="./docs-assets/init.js"></script>
</body>
</html>
`;
}

/** Relative, so the page finds the document behind any prefix (…/api/docs → …/api/openapi.json). */
const INIT = `window.ui = SwaggerUIBundle({ url: "./openapi.json", dom_id: "#swagger-ui" });\n`;

/** How an asset's package path becomes a URL: `import.meta.resolve` by default. */
export type ResolveAsset = (specifier: string) => string;

/**
 * Reads the assets of the pinned package (each once per mount). A path that does not
 * resolve (a bundle has no import map: the stack's edge profile, a deploy without the
 * package's files) or a file that cannot be read is a rejected promise, not a throw.
 */
function _assetReader(
  resolve: ResolveAsset,
): (name: string) => Promise<Uint8Array> | null {
  const cache = new Map<string, Promise<Uint8Array>>();
  return (name) => {
    const asset = ASSETS[name];
    if (!asset) return null;
    let bytes = cache.get(name);
    if (!bytes) {
      try {
        bytes = Deno.readFile(new URL(resolve(asset.file)));
      } catch (error) {
        return Promise.reject(error);
      }
      bytes.catch(() => cache.delete(name));
      cache.set(name, bytes);
    }
    return bytes;
  };
}

/** Mounts `/docs` and `/docs-assets/*` on the app (`resolve`: tests give their own). */
export function mountApiDocs<E extends Env>(
  // deno-lint-ignore no-explicit-any
  app: Hono<E, any, any>,
  title: string,
  resolve: ResolveAsset = (specifier) => import.meta.resolve(specifier),
): void {
  const readAsset = _assetReader(resolve);
  const headers = (type: string) => ({
    "content-type": type,
    "content-security-policy": DOCS_CSP,
    "x-content-type-options": "nosniff",
    "cache-control": "public, max-age=3600",
  });
  app.get(
    "/docs",
    (c) => c.body(_page(title), 200, headers("text/html; charset=utf-8")),
  );
  app.get(
    "/docs-assets/init.js",
    (c) => c.body(INIT, 200, headers("text/javascript; charset=utf-8")),
  );
  app.get("/docs-assets/:name", async (c) => {
    const name = c.req.param("name");
    const bytes = readAsset(name);
    if (!bytes) {
      return c.json({
        error: { code: "not_found", message: `no asset ${name}` },
      }, 404);
    }
    try {
      return c.body(
        await bytes as Uint8Array<ArrayBuffer>,
        200,
        headers(ASSETS[name]!.type),
      );
    } catch {
      return c.json({
        error: {
          code: "unavailable",
          message: `Swagger UI asset ${name} is not bundled with the function`,
        },
      }, 503);
    }
  });
}
