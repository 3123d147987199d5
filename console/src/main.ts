import { byId, el } from './dom';
import { type FeedEvent, FeedStore, type FeedStatus, runFeed } from './feed';
import { RequestError, request } from './graphql';
import { type Session, abilities, signIn, signOut, storedSession } from './session';
import { accountsView } from './views/accounts';
import { connectionsView } from './views/connections';
import { deadLettersView } from './views/dead-letters';
import { feedView } from './views/feed-view';
import { reconciliationView } from './views/reconciliation';

const STATUS_TEXT: Record<FeedStatus, string> = {
  starting: 'finding the newest event…', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', stopped: 'stopped',
};

function say(message: string): void {
  const toast = byId('toast');
  toast.textContent = message;
}

/** Checks the pasted token against the server before keeping it: a refused token is never stored. */
async function verify(session: Session): Promise<string | null> {
  try {
    await request(session, 'query OpsSignIn { syncJobs(first: 1) { nodes { id } } }');
    return null;
  } catch (err) {
    if (err instanceof RequestError && err.codes.includes('UNAUTHENTICATED')) return 'The gateway refused this token (expired, or signed with another key).';
    if (err instanceof RequestError && err.codes.includes('FORBIDDEN')) return 'This token lacks the sync:read scope the console needs.';
    return `Sign-in failed: ${(err as Error).message}`;
  }
}

function showSignIn(): void {
  const section = byId('signin');
  section.hidden = false;
  const input = byId<HTMLTextAreaElement>('token-input');
  const error = byId('signin-error');
  const submit = async () => {
    error.textContent = '';
    const token = input.value.trim();
    // The textarea is emptied at once: the token stays in no field a screenshot or autofill could pick up.
    input.value = '';
    const decoded = signIn(token);
    if (!decoded) {
      error.textContent = 'That is not a JWT (three dot-separated parts with tenant, sub, exp).';
      return;
    }
    const problem = await verify(decoded);
    if (problem) {
      signOut();
      error.textContent = problem;
      return;
    }
    section.hidden = true;
    start(decoded);
  };
  byId('signin-button').addEventListener('click', () => void submit());
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void submit();
    }
  });
}

function start(session: Session): void {
  const can = abilities(session);
  byId('who').replaceChildren(
    el('span', {}, 'tenant ', el('strong', { id: 'who-tenant' }, session.tenant)), ' · ', el('span', {}, session.sub), ' · ',
    el('span', { id: 'who-scopes', class: 'muted' }, [...session.scopes].join(' ')),
  );
  const out = byId<HTMLButtonElement>('signout');
  out.hidden = false;

  const sections: { id: string; title: string; build: (root: HTMLElement) => void }[] = [];
  const store = new FeedStore(session.tenant);
  const listeners: ((e: FeedEvent) => void)[] = [];
  const later: (() => Promise<void>)[] = [];
  sections.push({ id: 'feed', title: 'Live feed', build: (root) => listeners.push(feedView(root, store.events).add) });
  sections.push({ id: 'dead-letters', title: 'Dead letters', build: (root) => {
    const v = deadLettersView(root, session, can, say);
    listeners.push(v.onEvent);
    later.push(v.refresh);
  } });
  sections.push({ id: 'reconciliation', title: 'Reconciliation', build: (root) => later.push(reconciliationView(root, session, can, say).refresh) });
  if (can.readAccounts) {
    sections.push({ id: 'accounts', title: 'Accounts', build: (root) => {
      const v = accountsView(root, session, say);
      listeners.push(v.onEvent);
      later.push(v.refresh);
    } });
  }
  if (can.admin) sections.push({ id: 'connections', title: 'Connections', build: (root) => later.push(connectionsView(root, session, say).refresh) });

  const nav = byId('tabs');
  const views = byId('views');
  for (const s of sections) {
    const root = el('section', { id: `view-${s.id}`, class: 'view', hidden: true }, el('h2', {}, s.title));
    s.build(root);
    views.append(root);
    nav.append(el('a', { href: `#${s.id}`, id: `tab-${s.id}` }, s.title));
  }
  nav.hidden = false;
  const show = () => {
    const current = sections.find((s) => `#${s.id}` === location.hash)?.id ?? 'feed';
    for (const s of sections) {
      byId(`view-${s.id}`).hidden = s.id !== current;
      byId(`tab-${s.id}`).classList.toggle('active', s.id === current);
    }
  };
  window.addEventListener('hashchange', show);
  show();
  for (const refresh of later) void refresh().catch((e: Error) => say(e.message));

  const badge = byId('feed-status');
  const stop = runFeed(session, store, {
    onEvent: (e) => listeners.forEach((l) => l(e)),
    onStatus: (status, detail) => {
      badge.dataset['status'] = status;
      badge.textContent = detail ? `${STATUS_TEXT[status]}: ${detail}` : STATUS_TEXT[status];
    },
  });
  out.addEventListener('click', () => {
    stop();
    signOut();
    location.reload();
  });
}

const session = storedSession();
if (session) start(session);
else showSignIn();
