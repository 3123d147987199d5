import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { buildConsole } from '../console/build';
import { codes } from './support/http';
import { type Instance, type TestStack, startInstance, startTestStack } from './support/stack';
import { type TcpRelay, tcpRelay } from './support/tcp-relay';
import { waitForSync } from './support/wait';

/** Debian's chromium package; playwright-core drives it and never downloads a browser. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Set to a directory (e.g. docs/ops-console) to write the README's screenshots while the tests run. */
const SCREENSHOTS = process.env['OPS_SCREENSHOTS'];

// The functions handed to page.evaluate run in the browser. This program is compiled without the DOM library, so the
// few page globals they use are declared here, in this module only.
interface PageElement {
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): { length: number } };
declare const window: Record<string, unknown>;
declare const sessionStorage: { getItem(key: string): string | null };
declare class MutationObserver {
  constructor(callback: (records: { addedNodes: ArrayLike<unknown> }[]) => void);
  observe(target: PageElement, options: { childList: boolean }): void;
}

interface SeenRow {
  eventId: string;
  jobId: string;
  state: string;
}

describe('ops console in headless Chromium', () => {
  let stack: TestStack;
  let gateway: Instance;
  let browser: Browser;
  let base: string;
  let consoleDir: string;
  const contexts: BrowserContext[] = [];
  const logLines: string[] = [];
  const relays: TcpRelay[] = [];

  beforeAll(async () => {
    // Fail in a second, naming the missing piece, instead of timing out in playwright.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH. The ops console tests drive it with playwright-core.`);
    }
    consoleDir = mkdtempSync(join(tmpdir(), 'ops-console-'));
    await buildConsole(consoleDir);
    stack = await startTestStack({ accounts: 5, env: { SYNC_RETRY_BASE_MS: '10' } });
    // A second gateway serves the page: what it shows came through Redis from the stack's sync engine, as in production.
    gateway = await startConsoleGateway();
    base = gateway.url.replace(/\/graphql$/, '');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await stack?.stop();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    stack.sync.faults.clear();
    for (const c of contexts.splice(0)) await c.close();
    for (const r of relays.splice(0)) await r.close();
  });

  /** The gateway serving the page, its log at debug level kept to check that no token ever lands in it. */
  const startConsoleGateway = () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString('utf8')); done(); } });
    return startInstance(stack, { withBus: true, consoleDir, logger: pino({ level: 'debug' }, sink) });
  };

  /** A fresh tab signed in with `token`, its feed live; every request URL it makes is recorded. */
  const openConsole = async (token: string, hash = '', origin = base): Promise<{ page: Page; urls: string[] }> => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 820 } });
    contexts.push(context);
    const page = await context.newPage();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    page.on('websocket', (ws) => urls.push(ws.url()));
    await page.goto(`${origin}/ops/${hash}`);
    await page.fill('#token-input', token);
    await page.click('#signin-button');
    await page.waitForSelector('#feed-status[data-status="live"]', { timeout: 30_000 });
    return { page, urls };
  };

  const createAccount = async (name: string, tenant = 'acme') => {
    const res = await stack.gql<{ createAccount: { id: string } }>(
      'mutation($n: String!) { createAccount(input: { name: $n, billingAddress: { line1: "1 Rue", city: "Paris", country: "FR" } }) { id } }',
      { n: name },
      { tenant },
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data?.createAccount.id ?? '';
  };

  /** Rows of the feed as the page shows them, oldest first. */
  const feedRows = (page: Page) =>
    page.$$eval('#feed tbody tr', (trs) =>
      trs.map((tr) => ({ eventId: tr.getAttribute('data-event-id') ?? '', jobId: tr.getAttribute('data-job-id') ?? '', state: tr.getAttribute('data-state') ?? '' })).reverse(),
    );

  const shoot = async (page: Page, name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  };

  it('serves the page from the gateway with a strict CSP, redirects /ops, and refuses writes to it', async () => {
    const redirect = await fetch(`${base}/ops`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/ops/');
    const page = await fetch(`${base}/ops/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${base}/ops/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/ops/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${base}/ops/secrets.json`)).status).toBe(404);
    expect((await fetch(`${base}/ops/`, { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('refuses a token the gateway does not accept and keeps nothing of it', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/ops/`);
    const forged = (await stack.token()).replace(/\.[^.]+$/, '.c2lnbmF0dXJl');
    await page.fill('#token-input', forged);
    await page.click('#signin-button');
    await page.waitForSelector('#signin-error:has-text("refused")');
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual([]);
    expect(await page.inputValue('#token-input')).toBe('');
  });

  it('shows a job go PENDING -> RUNNING -> SUCCEEDED live after a mutation through the API, the token in no URL and no log line', async () => {
    const token = await stack.token({ scopes: ['sync:read', 'sync:write', 'crm:read', 'admin'] });
    const { page, urls } = await openConsole(token);
    // Every row the page inserts, in the order it inserts them: proof the states arrived one by one, live.
    await page.evaluate(() => {
      const seen: SeenRow[] = [];
      window['seen'] = seen;
      const body = document.querySelector('#feed tbody');
      if (!body) throw new Error('no feed table');
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of Array.from(r.addedNodes)) {
            const tr = n as PageElement;
            seen.push({ eventId: tr.dataset['eventId'] ?? '', jobId: tr.dataset['jobId'] ?? '', state: tr.dataset['state'] ?? '' });
          }
        }
      }).observe(body, { childList: true });
    });

    const id = await createAccount('Console Live GmbH');
    const jobs = await waitForSync(stack, 'acme', async () => {
      const rows = await stack.db.query<{ id: string; state: string }>('SELECT id, state FROM sync.jobs WHERE entity_id = $1', [id]);
      return rows.length === 2 && rows.every((r) => r.state === 'SUCCEEDED') ? rows : null;
    });
    await page.waitForFunction(
      (ids) => ids.every((j) => document.querySelector(`#feed tr[data-job-id="${j}"][data-state="SUCCEEDED"]`)),
      jobs.map((j) => j.id),
      { timeout: 20_000 },
    );
    const seen = await page.evaluate(() => window['seen'] as SeenRow[]);
    for (const job of jobs) {
      expect(seen.filter((s) => s.jobId === job.id).map((s) => s.state)).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    }
    // Accounts view: the new account's status per system, after the sync.
    await page.click('#tab-accounts');
    await page.fill('#acc-name', 'Console Live');
    await page.press('#acc-name', 'Enter');
    await page.waitForSelector(`#accounts tr[data-account-id="${id}"] .state-in_sync`);
    await shoot(page, 'accounts');
    await page.click('#tab-connections');
    await page.waitForSelector('#view-connections p.muted:has-text("No connections")');
    await page.click('#tab-feed');
    await shoot(page, 'feed');

    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(token))).toEqual([]);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      expect(url).not.toContain(token);
      // Nothing from another origin (no CDN): the page, its script, /graphql and the WebSocket only.
      expect(new URL(url).host).toBe(new URL(base).host);
    }
  });

  it('lists an injected dead letter with its error and history, and its replay button brings it to SUCCEEDED', async () => {
    const { page } = await openConsole(await stack.token({ scopes: ['sync:read', 'sync:write', 'crm:read'] }), '#dead-letters');
    stack.sync.faults.set('BILLING', { count: 1, kind: 'REJECT', operation: 'upsertCustomer' });
    const id = await createAccount('Console Rejected Inc');
    const row = `#dead-letters tr[data-entity-id="${id}"]`;
    await page.waitForSelector(`${row}[data-state="DEAD_LETTERED"]`, { timeout: 30_000 });
    expect(await page.textContent(`${row} td.error`)).toContain('UPSTREAM_REJECTED');
    await page.click(`${row} summary`);
    expect(await page.$$eval(`${row} ol.history li`, (lis) => lis.map((li) => li.querySelector('.state')?.textContent))).toEqual(['PENDING', 'RUNNING', 'DEAD_LETTERED']);
    await shoot(page, 'dead-letters');

    await page.click(`${row} button.replay`);
    await page.waitForSelector(`${row}[data-state="SUCCEEDED"]`, { timeout: 30_000 });
    const [job] = await stack.db.query<{ state: string }>("SELECT state FROM sync.jobs WHERE entity_id = $1 AND target_system = 'BILLING'", [id]);
    expect(job?.state).toBe('SUCCEEDED');
    expect(await stack.db.query('SELECT name FROM billing.customers WHERE id = $1', [id])).toEqual([{ name: 'Console Rejected Inc' }]);

    // "Run now" reconciles the tenant and shows the new report, with the drift made behind the engine's back.
    await stack.db.query("UPDATE erp.customers SET name = 'Renamed In ERP' WHERE id = $1", [id]);
    await page.click('#tab-reconciliation');
    const before = await page.getAttribute('#recon-summary', 'data-report-id');
    await page.click('#recon-run');
    await page.waitForFunction((prev) => {
      const id = document.querySelector('#recon-summary')?.getAttribute('data-report-id');
      return id && id !== prev;
    }, before);
    expect(await page.textContent('#recon-summary')).toMatch(/\d+ accounts checked/);
    expect(await page.textContent(`#drift tr[data-entity-id="${id}"]`)).toContain('Renamed In ERP');
    await shoot(page, 'reconciliation');
  });

  it('after a reload in the middle of a burst shows every event exactly once', async () => {
    const { page } = await openConsole(await stack.token({ tenant: 'globex', scopes: ['sync:read'] }));
    const start = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('ops.feed') ?? '{}') as { cursor: string }).cursor);
    // Accounts created one after another while the page reloads: events land before, during and after it.
    const names = Array.from({ length: 10 }, (_, i) => `Burst ${i}`);
    let created = 0;
    const burst = (async () => {
      for (const name of names) {
        await createAccount(name, 'globex');
        created++;
      }
    })();
    await page.waitForFunction(() => document.querySelectorAll('#feed tbody tr').length >= 3, undefined, { timeout: 30_000 });
    const shownBeforeReload = (await feedRows(page)).length;
    await page.reload();
    await page.waitForSelector('#feed-status[data-status="live"]');
    await burst;
    expect(created).toBe(names.length);
    const expected = await waitForSync(stack, 'globex', async () => {
      const jobs = await stack.db.query<{ state: string }>("SELECT state FROM sync.jobs WHERE tenant_id = 'globex' AND entity_id IN (SELECT id FROM crm.accounts WHERE tenant_id = 'globex' AND name LIKE 'Burst %')");
      if (jobs.length !== names.length * 2 || jobs.some((j) => j.state !== 'SUCCEEDED')) return null;
      // The relay numbers a job's events after the job's state is written: wait until every one has its number.
      const events = await stack.gql<{ syncEvents: { eventId: string }[] }>('query($a: ID!) { syncEvents(after: $a, first: 1000) { eventId } }', { a: start }, { tenant: 'globex' });
      const ids = events.body.data?.syncEvents.map((e) => e.eventId) ?? [];
      return ids.length >= names.length * 2 * 3 ? ids : null;
    }, 60_000);
    expect(expected.length).toBe(names.length * 2 * 3);
    await page.waitForFunction((n) => document.querySelectorAll('#feed tbody tr').length >= n, expected.length, { timeout: 30_000 });
    const shown = (await feedRows(page)).map((r) => r.eventId);
    expect(shownBeforeReload).toBeGreaterThan(0);
    expect(shownBeforeReload).toBeLessThan(expected.length);
    expect(shown).toEqual(expected);
  });

  it('after its connection to the gateway was cut and came back, shows every event of the gap exactly once', async () => {
    const relay = await tcpRelay(new URL(base));
    relays.push(relay);
    const { page } = await openConsole(await stack.token({ tenant: 'globex', scopes: ['sync:read'] }), '', relay.origin);
    const start = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('ops.feed') ?? '{}') as { cursor: string }).cursor);
    relay.cut();
    await page.waitForSelector('#feed-status[data-status="reconnecting"]');
    // Written through the stack's own gateway while the page's is down.
    const ids = [await createAccount('Gap One', 'globex'), await createAccount('Gap Two', 'globex')];
    const expected = await waitForSync(stack, 'globex', async () => {
      const jobs = await stack.db.query<{ state: string }>('SELECT state FROM sync.jobs WHERE entity_id = ANY($1::text[])', [ids]);
      if (jobs.length !== 4 || jobs.some((j) => j.state !== 'SUCCEEDED')) return null;
      // The relay numbers a job's events after the job's state is written: wait until every one has its number.
      const events = await stack.gql<{ syncEvents: { eventId: string }[] }>('query($a: ID!) { syncEvents(after: $a, first: 1000) { eventId } }', { a: start }, { tenant: 'globex' });
      const numbered = events.body.data?.syncEvents.map((e) => e.eventId) ?? [];
      return numbered.length >= 12 ? numbered : null;
    }, 60_000);
    expect(expected).toHaveLength(12);
    expect(await page.$$('#feed tbody tr')).toHaveLength(0);
    relay.restore();
    await page.waitForSelector('#feed-status[data-status="live"]', { timeout: 30_000 });
    await page.waitForFunction((n) => document.querySelectorAll('#feed tbody tr').length >= n, expected.length, { timeout: 30_000 });
    expect((await feedRows(page)).map((r) => r.eventId)).toEqual(expected);
  });

  it('gives a read-only token no replay control, and the server refuses its replay anyway', async () => {
    stack.sync.faults.set('ERP', { count: 1, kind: 'REJECT', operation: 'upsertCustomer' });
    const id = await createAccount('Console Read Only SA');
    const [dead] = await waitForSync(stack, 'acme', async () => {
      const rows = await stack.db.query<{ id: string }>("SELECT id FROM sync.jobs WHERE entity_id = $1 AND state = 'DEAD_LETTERED'", [id]);
      return rows.length ? rows : null;
    });
    const readOnly = await stack.token({ scopes: ['sync:read', 'crm:read'] });
    const { page } = await openConsole(readOnly, '#dead-letters');
    await page.waitForSelector(`#dead-letters tr[data-entity-id="${id}"][data-state="DEAD_LETTERED"]`);
    expect(await page.$$('#dead-letters button.replay')).toHaveLength(0);
    expect(await page.$('#dl-replay-all')).toBeNull();
    expect(await page.isVisible('#dl-read-only')).toBe(true);
    await page.click('#tab-reconciliation');
    expect(await page.$('#recon-run')).toBeNull();
    // Connections are for admins: no tab at all.
    expect(await page.$('#tab-connections')).toBeNull();

    const refused = await stack.gql('mutation($id: ID!) { replaySyncJob(id: $id) { state } }', { id: dead?.id }, { token: readOnly });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    const refusedAll = await stack.gql('mutation { replayDeadLetters(filter: {}) }', {}, { token: readOnly });
    expect(codes(refusedAll)).toEqual(['FORBIDDEN']);
  });
});
