import { shellQuote } from '../core/shell.js';
import { escapeHtml, page } from '../oidc/page.js';
import type { TagDetails } from './browse.js';

/**
 * The registry page (docs/catalog.md "The registry page"): server-rendered HTML in the OIDC
 * login page's style, no JavaScript, no external assets. Every text from the registry or the
 * user (names, tags, labels, digests) is escaped; links carry names percent-encoded.
 */

/** Where the pages live, e.g. `/regauth/ui`. */
export interface UiPaths {
  readonly base: string;
  /** Signed in with an `oidc_auth` session: where the sign-out form posts, and its CSRF token. */
  readonly signOut?: { readonly action: string; readonly csrf: string };
}

/** The sign-out button, when signed in with a session: a plain form, no JavaScript. */
function signOutForm(p: UiPaths): string {
  if (!p.signOut) return '';
  return `<form id="sign-out" method="post" action="${escapeHtml(p.signOut.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.signOut.csrf)}">
<button type="submit">Sign out</button>
</form>`;
}

const repositoryHref = (p: UiPaths, name: string) => `${p.base}/repository?name=${encodeURIComponent(name)}`;

export function renderRepositories(
  p: UiPaths,
  account: string,
  repositories: readonly string[],
  nextLast: string | undefined,
): string {
  const items = repositories
    .map((r) => `<li><a href="${escapeHtml(repositoryHref(p, r))}">${escapeHtml(r)}</a></li>`)
    .join('\n');
  const more = nextLast
    ? `<p><a id="next" href="${escapeHtml(`${p.base}/?last=${encodeURIComponent(nextLast)}`)}">More repositories</a></p>`
    : '';
  return page(
    'Registry',
    `<h1>Repositories</h1>
<p class="muted">Signed in as <strong id="account">${escapeHtml(account || '(anonymous)')}</strong>: the repositories you may pull.</p>
${repositories.length > 0 ? `<ul id="repositories">\n${items}\n</ul>` : '<p id="repositories">None.</p>'}
${more}
${signOutForm(p)}`,
  );
}

export function renderRepository(p: UiPaths, name: string, tags: readonly string[]): string {
  const items = tags
    .map(
      (t) =>
        `<li><a href="${escapeHtml(`${p.base}/tag?name=${encodeURIComponent(name)}&tag=${encodeURIComponent(t)}`)}">${escapeHtml(t)}</a></li>`,
    )
    .join('\n');
  return page(
    name,
    `<p><a href="${escapeHtml(`${p.base}/`)}">Repositories</a></p>
<h1 id="repository">${escapeHtml(name)}</h1>
${tags.length > 0 ? `<ul id="tags">\n${items}\n</ul>` : '<p id="tags">No tags.</p>'}
${signOutForm(p)}`,
  );
}

export function renderTag(
  p: UiPaths,
  name: string,
  tag: string,
  details: TagDetails,
  registryHost: string,
): string {
  const rows: [string, string, string][] = [
    ['digest', 'Digest', details.digest],
    ['media-type', 'Media type', details.mediaType],
    ['size', 'Size', formatSize(details.size)],
    ['platforms', 'Platforms', details.platforms.join(', ') || '—'],
    ['created', 'Created', details.created ?? '—'],
  ];
  const labels = Object.entries(details.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const pull = `docker pull ${shellQuote(`${registryHost}/${name}:${tag}`)}`;
  return page(
    `${name}:${tag}`,
    `<p><a href="${escapeHtml(`${p.base}/`)}">Repositories</a> / <a href="${escapeHtml(repositoryHref(p, name))}">${escapeHtml(name)}</a></p>
<h1 id="tag">${escapeHtml(name)}:${escapeHtml(tag)}</h1>
<table>
${rows.map(([id, label, value]) => `<tr><th>${label}</th><td id="${id}">${escapeHtml(value)}</td></tr>`).join('\n')}
</table>
${labels ? `<h2>Labels</h2>\n<table id="labels">\n${labels}\n</table>` : ''}
<p>Pull it:</p>
<pre id="pull">${escapeHtml(pull)}</pre>
${signOutForm(p)}`,
  );
}

export function renderUiError(p: UiPaths, status: number, message: string): string {
  return page(
    'Registry',
    `<h1>Registry</h1>
<p id="error">${escapeHtml(message)}</p>
<p class="muted">HTTP ${status}. <a href="${escapeHtml(`${p.base}/`)}">Repositories</a></p>
${signOutForm(p)}`,
  );
}

/** After signing out. */
export function renderSignedOut(p: UiPaths): string {
  return page(
    'Registry',
    `<h1>Registry</h1>
<p id="signed-out">You have signed out of the registry page.</p>
<p class="muted">While you are still signed in at the identity provider, signing in again may not ask for your password.</p>
<p><a id="sign-in" href="${escapeHtml(`${p.base}/`)}">Sign in again</a></p>`,
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${units[i]} (${bytes} bytes)`;
}
