import type { LoginResult } from './login.js';
import { shellQuote } from '../core/shell.js';

/** HTML-escapes text for element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The styles of the pages (these and the registry page, src/catalog/page.ts): inline (the Content-Security-Policy allows no other source), no
 * external assets, no JavaScript.
 */
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
pre{background:#f4f4f6;border:1px solid #ddd;border-radius:6px;padding:.75rem;white-space:pre-wrap;word-break:break-all}
.muted{color:#666;font-size:.9rem}h1{font-size:1.4rem}h2{font-size:1.1rem}
th{text-align:left;vertical-align:top;padding-right:1rem;white-space:nowrap}td{word-break:break-all}`;

export /** A whole page: `title` is escaped here, `body` must be HTML already escaped. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** The callback page: the account, the app password, and the `docker login` command to run. */
export function renderLoginPage(result: LoginResult): string {
  const command = `docker login ${shellQuote(result.registryUrl)} -u ${shellQuote(result.account)} --password-stdin`;
  const expires = new Date(result.expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return page(
    'Registry app password',
    `<h1>Registry app password</h1>
<p>Signed in as <strong id="account">${escapeHtml(result.account)}</strong>.</p>
<p>Your app password (shown once; valid until <span id="expires">${escapeHtml(expires)}</span>):</p>
<pre id="app-password">${escapeHtml(result.appPassword.reveal())}</pre>
<p>Run this command, paste the app password, press Enter, then Ctrl-D:</p>
<pre id="docker-login">${escapeHtml(command)}</pre>
<p class="muted">Keep the app password like any password. To revoke it, an administrator sets
<code>oidc_auth.not_before</code> for your account.</p>`,
  );
}

/** An error page: a short message, never a stack trace. */
export function renderErrorPage(status: number, message: string, loginPath: string): string {
  return page(
    'Registry login failed',
    `<h1>Registry login failed</h1>
<p id="error">${escapeHtml(message)}</p>
<p class="muted">HTTP ${status}. <a href="${escapeHtml(loginPath)}">Sign in again</a></p>`,
  );
}
