import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/** URL path the ops console is served under. */
export const OPS_CONSOLE_PATH = '/ops';

/** The files `npm run build` writes for the console (console/build.ts); nothing else is served. */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/**
 * The page may talk to its own origin only (HTTP and WebSocket), runs no inline script, and cannot be framed.
 * `connect-src 'self'` covers ws: and wss: to the same host in CSP level 3 (Chromium, Firefox, Safari).
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // The page holds a pasted token in sessionStorage: no copy of it may come from a shared cache.
  'cache-control': 'no-store',
};

/**
 * Where the built console is: beside the compiled gateway (`dist/console` next to `dist/gateway`) in production, the
 * repository's `dist/console` when the gateway runs from sources. Null when it was not built.
 */
export function defaultConsoleDir(): string | null {
  const candidates = [join(__dirname, '..', 'console'), join(__dirname, '..', 'dist', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'app.js'))) ?? null;
}

/**
 * Serves the ops console's static files under /ops/ (GET and HEAD), read once into memory; returns false for any other
 * path so the caller routes it on. Without a built console, /ops answers 404 and says how to build it.
 */
export function opsConsoleHandler(dir: string | null): (req: IncomingMessage, res: ServerResponse) => boolean {
  const files = new Map<string, { type: string; body: Buffer }>();
  if (dir) for (const [name, type] of Object.entries(FILES)) files.set(name, { type, body: readFileSync(join(dir, name)) });
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    if (pathname !== OPS_CONSOLE_PATH && !pathname.startsWith(`${OPS_CONSOLE_PATH}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return true;
    }
    if (pathname === OPS_CONSOLE_PATH) {
      res.writeHead(308, { location: `${OPS_CONSOLE_PATH}/` }).end();
      return true;
    }
    const name = pathname.slice(OPS_CONSOLE_PATH.length + 1) || 'index.html';
    const file = files.get(name);
    if (!file) {
      const why = dir ? 'Not found\n' : 'The ops console is not built: run `npm run build` (or `npm run build:console`).\n';
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(why);
      return true;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
