// The Planter dashboard: plain JavaScript, no framework, nothing fetched from elsewhere.
// Every call goes to this server's own API with the token the user typed (kept in sessionStorage).
// app.js: the API, the token, namespaces and DOM helpers; live.js: live updates; pages.js: the pages.
'use strict';

const TOKEN_KEY = 'planter.token';
const NAMESPACE_KEY = 'planter.namespace';
// The API lives where the page does, minus `/ui/` (and a `/namespaces/<name>` in front of it).
const API_ROOT = location.pathname.replace(/\/ui\/.*$/, '').replace(/\/namespaces\/[^/]+$/, '');
const STATUSES = ['pending', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'timedOut'];

const state = { namespace: sessionStorage.getItem(NAMESPACE_KEY) || 'default', follow: null, status: null, poll: null, runWait: null, following: null, view: 0 };

// MARK: API

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}

function prefix(scope) {
  return scope === 'server' || state.namespace === 'default' ? API_ROOT : API_ROOT + '/namespaces/' + encodeURIComponent(state.namespace);
}

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: 'Bearer ' + token } : {};
}

async function api(path, { method = 'GET', scope = 'namespace', text = false, signal } = {}) {
  const response = await fetch(prefix(scope) + path, { method, headers: headers(), signal });
  if (response.status === 401) { askToken('The server refused the token.'); throw new APIError(401, null); }
  const body = text ? await response.text() : await response.json().catch(() => null);
  if (!response.ok) {
    let parsed = body;
    if (text) { try { parsed = JSON.parse(body); } catch (_) { parsed = null; } }
    throw new APIError(response.status, parsed);
  }
  return { body, response };
}

// MARK: Token and namespaces

function askToken(message) {
  const dialog = document.getElementById('login');
  document.getElementById('login-error').textContent = message || '';
  if (!dialog.open) dialog.showModal();
}

document.getElementById('login-form').addEventListener('submit', () => {
  sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
  document.getElementById('token').value = '';
  start();
});

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askToken('');
});

async function loadNamespaces() {
  const select = document.getElementById('namespace');
  const { body } = await api('/namespaces', { scope: 'server' });
  const names = body.namespaces.map((n) => n.name);
  if (!names.includes(state.namespace)) state.namespace = names.includes('default') ? 'default' : (names[0] || 'default');
  select.replaceChildren(...names.map((name) => new Option(name, name, false, name === state.namespace)));
}

document.getElementById('namespace').addEventListener('change', (event) => {
  state.namespace = event.target.value;
  sessionStorage.setItem(NAMESPACE_KEY, state.namespace);
  stopFollowing();
  route();
  watch();
  waitForRuns();
});

// MARK: Helpers

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const badge = (status) => el('span', { class: 'badge', 'data-status': status }, status);
const link = (href, text) => el('a', { href }, text);
const phaseLink = (id) => link('#/phases/' + encodeURIComponent(id), id);
const runLink = (id) => link('#/runs/' + encodeURIComponent(id), id);

function duration(ms) {
  if (ms === undefined || ms === null) return '-';
  if (ms < 1000) return ms + 'ms';
  if (ms < 60000) return (ms / 1000).toFixed(1) + 's';
  return Math.floor(ms / 60000) + 'm' + Math.round((ms % 60000) / 1000) + 's';
}

function counts(summary) {
  return Object.entries(summary || {}).filter(([, n]) => n > 0).map(([s, n]) => n + ' ' + s).join(', ') || '-';
}

function table(columns, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c)))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c))))));
}

// `view`: the route() that started the page; a page overtaken by a newer one shows nothing.
function show(view, ...nodes) {
  if (view !== state.view) return;
  document.getElementById('main').replaceChildren(...nodes);
}

function failure(error) {
  return el('p', { class: 'error', role: 'alert' }, error.message);
}

// An action the user confirms first; its answer (or error) goes to the status line.
async function act(question, path, after) {
  if (!confirm(question)) return;
  const line = document.getElementById('action-result');
  try {
    const { body } = await api(path, { method: 'POST' });
    if (line) line.textContent = 'done' + (body && body.runId ? ': run ' + body.runId : '');
    watchSoon();
    if (after) after(body);
  } catch (error) {
    if (line) line.textContent = error.message;
  }
}
