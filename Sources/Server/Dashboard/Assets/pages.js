// The dashboard's pages and its hash routing (loaded after app.js and live.js; starts the page).
'use strict';

// MARK: Pages

async function graphPage(view) {
  const holder = el('div', { class: 'graph', id: 'graph' }, el('p', { class: 'muted' }, 'laying out the plan…'));
  const toolbar = el('div', { class: 'toolbar' });
  const legend = el('div', { class: 'legend', 'aria-label': 'statuses' }, STATUSES.map(badge));
  // Apart from the toolbar, which follows the run in progress and is redrawn with it.
  const options = el('div', { class: 'toolbar', id: 'graph-options' });
  show(view, el('h1', {}, 'Plan'), toolbar, el('p', { id: 'action-result', class: 'muted', 'aria-live': 'polite' }), legend, options, holder,
    el('div', { id: 'phase-table' }));
  let planState;
  try {
    planState = (await api('/state')).body;
  } catch (error) { holder.replaceChildren(failure(error)); return; }
  if (view !== state.view) return;
  toolbar.replaceChildren(...runActions(planState));
  // The buttons follow the run in progress (one started elsewhere, or this one ending).
  let shownRun = planState.activeRunId;
  state.onStatus = (status) => {
    if (status.activeRunId === shownRun) return;
    shownRun = status.activeRunId;
    toolbar.replaceChildren(...runActions({ ...planState, activeRunId: status.activeRunId }));
  };
  if (!planState.planId) { holder.replaceChildren(el('p', {}, 'No plan is applied in this namespace yet.')); return; }
  drawGraph(view, planState, holder, options, state.groupBy || 'wave');
}

// The applied plan's graph; collapsed (a large plan), grouped by wave or by a label the user picks.
async function drawGraph(view, planState, holder, options, groupBy) {
  try {
    const { body, response } = await api('/graph.svg' + (groupBy === 'wave' ? '' : '?groupBy=' + encodeURIComponent(groupBy)), { text: true });
    if (view !== state.view) return;
    holder.innerHTML = body;  // our own server's SVG: dot escapes every label
    const svg = holder.querySelector('svg');
    if (response.headers.get('X-Planter-Graph') === 'collapsed') {
      phaseTable(planState);
      state.groupLabel = groupBy.startsWith('label:') ? groupBy.slice(6) : null;
      if (!document.getElementById('group-by')) options.append(groupChooser(view, planState, holder, options, groupBy));
    }
    svg.addEventListener('click', (event) => openNode(event.target.closest('g.node')));
    svg.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); openNode(event.target.closest('g.node')); }
    });
    if (state.status) paint(state.status.phases || {});
  } catch (error) {
    if (view !== state.view) return;
    holder.replaceChildren(failure(error));
    phaseTable(planState);
  }
}

// Group by wave, or by any label key the plan's phases carry (kept for the tab's later pages).
function groupChooser(view, planState, holder, holderOfOptions, groupBy) {
  const keys = new Set();
  for (const p of planState.phases) for (const key of Object.keys(matchLabels(p))) keys.add(key);
  const options = ['wave', ...[...keys].sort().map((k) => 'label:' + k)];
  const select = el('select', { id: 'group-by', 'aria-label': 'group the graph by' },
    options.map((o) => new Option(o === 'wave' ? 'wave' : 'label ' + o.slice(6), o, false, o === groupBy)));
  select.addEventListener('change', () => {
    state.groupBy = select.value;
    holder.replaceChildren(el('p', { class: 'muted' }, 'laying out the plan…'));
    drawGraph(view, planState, holder, holderOfOptions, select.value);
  });
  return el('label', {}, 'group by ', select);
}

const matchLabels = (phase) => (phase.spec && phase.spec.selector && phase.spec.selector.matchLabels) || {};

function openNode(node) {
  if (!node) return;
  if (node.hasAttribute('data-phase')) location.hash = '#/phases/' + encodeURIComponent(node.getAttribute('data-phase'));
  else if (node.hasAttribute('data-wave') || node.hasAttribute('data-label')) {
    const filter = document.getElementById('phase-filter');
    const query = node.hasAttribute('data-wave') ? 'wave:' + node.getAttribute('data-wave')
      : node.getAttribute('data-label') + '=' + (node.getAttribute('data-value') ?? '');
    if (filter) { filter.value = query; filter.dispatchEvent(new Event('input')); filter.focus(); }
  }
}

// Large plans: every phase in a table, filtered by text (`wave:N`, `key=value` of a label (`key=`:
// without it), a status, or part of an id).
function phaseTable(planState) {
  const ids = planState.phases.map((p) => p.id);
  const waves = waveNumbers(planState.phases);
  state.waveOf = new Map(ids.map((id, i) => [id, waves[i]]));
  state.labelsOf = new Map(planState.phases.map((p) => [p.id, matchLabels(p)]));
  const statusOf = (id) => (planState.phaseStatus[id] && planState.phaseStatus[id].status) || 'pending';
  const body = el('tbody');
  const input = el('input', { id: 'phase-filter', type: 'search', placeholder: 'filter: id, status, wave:N, label=value', 'aria-label': 'filter phases' });
  const summary = el('span', { class: 'muted' });
  const render = () => {
    const query = input.value.trim();
    const wave = /^wave:(\d+)$/.exec(query);
    const label = wave ? null : /^([!-~]+?)=([!-~]*)$/.exec(query);
    const rows = [];
    for (let i = 0; i < ids.length && rows.length < 500; i++) {
      const status = (state.status && state.status.phases && state.status.phases[ids[i]]) || statusOf(ids[i]);
      if (wave ? waves[i] !== Number(wave[1])
        : label ? (state.labelsOf.get(ids[i])[label[1]] ?? '') !== label[2]
          : query && !ids[i].includes(query) && status !== query) continue;
      rows.push(el('tr', {}, el('td', {}, phaseLink(ids[i])), el('td', {}, waves[i]),
        el('td', {}, el('span', { class: 'badge', 'data-status': status, 'data-phase-status': ids[i] }, status))));
    }
    body.replaceChildren(...rows);
    summary.textContent = rows.length >= 500 ? 'the first 500 matches' : rows.length + (rows.length === 1 ? ' phase' : ' phases');
  };
  input.addEventListener('input', render);
  document.getElementById('phase-table').replaceChildren(el('h2', {}, 'Phases'), el('div', { class: 'toolbar' }, input, summary),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'phase'), el('th', {}, 'wave'), el('th', {}, 'status'))), body));
  render();
}

function waveNumbers(phases) {
  const index = new Map(phases.map((p, i) => [p.id, i]));
  const wave = new Array(phases.length).fill(0);
  // The applied plan is in an order the server validated; a few passes settle any order.
  for (let pass = 0, changed = true; changed && pass < phases.length; pass++) {
    changed = false;
    phases.forEach((p, i) => {
      const deps = (p.spec && p.spec.waitFor && p.spec.waitFor.phases) || [];
      const w = deps.reduce((m, d) => (index.has(d) ? Math.max(m, wave[index.get(d)] + 1) : m), 1);
      if (w !== wave[i]) { wave[i] = w; changed = true; }
    });
  }
  return wave;
}

function runActions(planState) {
  const actions = [];
  if (planState.staged) {
    actions.push(el('button', { type: 'button', id: 'apply-staged',
      onclick: () => act('Apply the staged plan ' + planState.staged.planId + '?', '/apply', route) }, 'Apply staged plan'));
  }
  const runId = planState.activeRunId;
  if (runId) {
    actions.push(el('button', { type: 'button', class: 'danger', id: 'cancel-run', onclick: () => act('Cancel run ' + runId + '?', '/runs/' + encodeURIComponent(runId) + '/cancel') }, 'Cancel run'));
    actions.push(el('button', { type: 'button', onclick: () => act('Pause run ' + runId + '? Running phases finish; no new phase starts.', '/runs/' + encodeURIComponent(runId) + '/pause') }, 'Pause'));
    actions.push(el('button', { type: 'button', onclick: () => act('Resume run ' + runId + '?', '/runs/' + encodeURIComponent(runId) + '/resume') }, 'Resume'));
    actions.push(el('span', { class: 'muted' }, 'running: ', runLink(runId)));
  }
  return actions;
}

async function runsPage(view) {
  show(view, el('h1', {}, 'Runs'), el('p', { class: 'muted' }, 'loading…'));
  try {
    const { body } = await api('/runs?limit=100');
    show(view, el('h1', {}, 'Runs'), table(['run', 'status', 'started', 'duration', 'trigger', 'by', 'phases'],
      body.runs.map((r) => [runLink(r.runId), badge(r.status), r.startedAt || '-', duration(r.durationMs), r.trigger || '-',
        r.triggeredBy || '-', counts(r.summary)])));
  } catch (error) { show(view, el('h1', {}, 'Runs'), failure(error)); }
}

async function runPage(view, id) {
  try {
    const { body: run } = await api('/runs/' + encodeURIComponent(id));
    const phases = run.phases || [];
    const actions = run.status === 'running' ? [
      el('button', { type: 'button', class: 'danger', onclick: () => act('Cancel run ' + id + '?', '/runs/' + encodeURIComponent(id) + '/cancel', route) }, 'Cancel run'),
      el('button', { type: 'button', onclick: () => act('Pause run ' + id + '?', '/runs/' + encodeURIComponent(id) + '/pause', route) }, 'Pause'),
      el('button', { type: 'button', onclick: () => act('Resume run ' + id + '?', '/runs/' + encodeURIComponent(id) + '/resume', route) }, 'Resume'),
    ] : [];
    show(view, el('h1', {}, 'Run ', id), el('p', {}, badge(run.status), ' ', duration(run.durationMs), ' · ', counts(run.summary),
      run.triggeredBy ? ' · by ' + run.triggeredBy : '', run.trigger ? ' · ' + run.trigger : ''),
    el('div', { class: 'toolbar' }, actions), el('p', { id: 'action-result', class: 'muted', 'aria-live': 'polite' }),
    el('h2', {}, 'Graph'), el('div', { class: 'graph', id: 'run-graph' }, el('p', { class: 'muted' }, 'laying out…')),
    el('h2', {}, 'Timeline'), timeline(phases),
    el('h2', {}, 'Phases'), table(['phase', 'status', 'attempts', 'duration', 'executor', 'message'],
      phases.map((p) => [phaseLink(p.id), badge(p.status), (p.attempts || []).length,
        duration((p.attempts || []).reduce((s, a) => s + (a.durationMs || 0), 0) || undefined), p.executor || '-', p.message || ''])));
    if (view === state.view) runGraph(view, run);
  } catch (error) { show(view, el('h1', {}, 'Run ', id), failure(error)); }
}

// The graph of the revision the run ran (GET /graph.svg?planId=, from the history if it is no
// longer applied), coloured with that run's own statuses.
async function runGraph(view, run) {
  const holder = document.getElementById('run-graph');
  if (!run.planId) { holder.replaceChildren(el('p', { class: 'muted' }, 'This run names no plan revision.')); return; }
  try {
    const { body, response } = await api('/graph.svg?planId=' + encodeURIComponent(run.planId), { text: true });
    if (view !== state.view) return;
    if (response.headers.get('X-Planter-Graph') !== 'phases') {
      holder.replaceChildren(el('p', { class: 'muted' }, 'Plan ' + run.planId + ' has too many phases to draw one by one; the table below lists them.'));
      return;
    }
    holder.innerHTML = body;  // our own server's SVG: dot escapes every label
    const statuses = new Map((run.phases || []).map((p) => [p.id, p.status]));
    for (const node of holder.querySelectorAll('g.node[data-phase]')) {
      node.setAttribute('data-status', statuses.get(node.getAttribute('data-phase')) || 'pending');
    }
    holder.querySelector('svg').addEventListener('click', (event) => openNode(event.target.closest('g.node')));
  } catch (error) { if (view === state.view) holder.replaceChildren(failure(error)); }
}

// Each attempt as a bar from its start to its end, on one time axis for the run.
function timeline(phases) {
  const attempts = [];
  for (const p of phases) for (const a of p.attempts || []) {
    const startedAt = Date.parse(a.startedAt);
    const endedAt = a.endedAt ? Date.parse(a.endedAt) : Date.now();
    if (!Number.isNaN(startedAt)) attempts.push({ phase: p.id, attempt: a.attempt, status: a.status, startedAt, endedAt });
  }
  if (!attempts.length) return el('p', { class: 'muted' }, 'No attempt ran.');
  const first = Math.min(...attempts.map((a) => a.startedAt));
  const span = Math.max(1, Math.max(...attempts.map((a) => a.endedAt)) - first);
  return el('div', { class: 'timeline', role: 'list' }, attempts.slice(0, 400).map((a) => el('div', { class: 'row', role: 'listitem' },
    el('span', {}, a.phase + ' #' + a.attempt),
    el('div', { class: 'track', title: a.status + ' ' + duration(a.endedAt - a.startedAt) },
      el('div', { class: 'bar', 'data-status': a.status,
        style: 'left:' + ((a.startedAt - first) * 100 / span).toFixed(2) + '%;width:' + ((a.endedAt - a.startedAt) * 100 / span).toFixed(2) + '%' })))));
}

async function phasePage(view, id) {
  try {
    const { body: phase } = await api('/phases/' + encodeURIComponent(id));
    const attempts = phase.attempts || [];
    const executor = (phase.labels && phase.labels.executor) || (phase.spec && phase.spec.selector && phase.spec.selector.matchLabels &&
      phase.spec.selector.matchLabels.executor) || '-';
    const workers = [...new Set(attempts.map((a) => a.worker).filter(Boolean))];
    show(view, el('h1', {}, 'Phase ', id),
      el('p', {}, el('span', { class: 'badge', id: 'phase-status', 'data-status': phase.status, 'data-phase-status': id }, phase.status),
        ' · executor ', executor, ' · worker ', workers.join(', ') || 'this server',
        phase.lastRunId ? [' · last run ', runLink(phase.lastRunId)] : ''),
      el('div', { class: 'toolbar' },
        el('button', { type: 'button', id: 'rerun', onclick: () => act('Rerun ' + id + ' and the phases that depend on it?',
          '/phases/' + encodeURIComponent(id) + '/run?withDependents=true', () => setTimeout(route, 800)) }, 'Rerun with dependents'),
        el('button', { type: 'button', id: 'rerun-alone', onclick: () => act('Rerun ' + id + ' alone?',
          '/phases/' + encodeURIComponent(id) + '/run', () => setTimeout(route, 800)) }, 'Rerun this phase')),
      el('p', { id: 'action-result', class: 'muted', 'aria-live': 'polite' }),
      el('h2', {}, 'Attempts'), attempts.length ? table(['attempt', 'status', 'exit code', 'duration', 'worker', 'message'],
        attempts.map((a) => [a.attempt, badge(a.status), a.exitCode ?? '-', duration(a.durationMs), a.worker || '-', a.message || '']))
        : el('p', { class: 'muted' }, 'No attempt yet.'),
      el('h2', {}, 'Output (tail)'), el('pre', { id: 'phase-output' }, phase.output || ''),
      el('h2', {}, 'Spec'), el('pre', { id: 'phase-spec' }, JSON.stringify(phase.spec, null, 2)),
      el('h2', {}, 'Events'), table(['time', 'type', 'level', 'message'],
        (phase.events || []).slice(-200).map((e) => [e.time, e.type, e.level, e.message || ''])),
      phase.history ? [el('h2', {}, 'History across runs'), historyTable(phase.history)] : []);
  } catch (error) { show(view, el('h1', {}, 'Phase ', id), failure(error)); }
}

function historyTable(history) {
  const rows = Array.isArray(history) ? history : (history.runs || history.entries || []);
  if (!rows.length) return el('p', { class: 'muted' }, 'No earlier run.');
  return table(['run', 'status', 'attempts', 'ended'], rows.map((h) => [h.runId ? runLink(h.runId) : '-', badge(h.status || '-'),
    h.attempts === undefined ? '-' : (Array.isArray(h.attempts) ? h.attempts.length : h.attempts), h.endedAt || '-']));
}

// Two revisions field by field: by default the staged plan against the applied one (GET /diff),
// or any two the user picks (GET /diff?from=&to=; the choice is kept in the hash: #/diff/<from>/<to>).
async function diffPage(view, from, to) {
  const title = el('h1', {}, 'Diff');
  try {
    const picked = from && to;
    const [{ body: diff }, { body: plans }] = await Promise.all([
      api(picked ? '/diff?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to) : '/diff'),
      api('/plans?limit=200')]);
    const revisions = plans.plans.map((p) => ({ id: p.planId, text: p.planId + ' · ' + p.submittedAt + (p.applied ? ' (applied)' : '') }));
    if (diff.staged && !revisions.some((r) => r.id === diff.stagedPlanId)) {
      revisions.unshift({ id: diff.stagedPlanId, text: diff.stagedPlanId + ' (staged)' });
    }
    const oldId = picked ? from : diff.appliedPlanId;
    const newId = picked ? to : diff.stagedPlanId;
    const chooser = (id, name, selected) => el('select', { id, 'aria-label': name },
      revisions.map((r) => new Option(r.text, r.id, false, r.id === selected)));
    const fromSelect = chooser('diff-from', 'from revision', oldId);
    const toSelect = chooser('diff-to', 'to revision', newId);
    const compare = () => { location.hash = '#/diff/' + encodeURIComponent(fromSelect.value) + '/' + encodeURIComponent(toSelect.value); };
    const nodes = [title, el('div', { class: 'toolbar' }, el('label', {}, 'from ', fromSelect), el('label', {}, 'to ', toSelect),
      el('button', { type: 'button', id: 'diff-compare', onclick: compare, disabled: revisions.length === 0 }, 'Compare'),
      picked ? link('#/diff', 'staged against applied') : null)];
    if (!picked && !diff.staged) {
      nodes.push(el('p', { id: 'diff-summary' }, 'Nothing is staged. Stage a plan with ', el('code', {}, 'planter apply PLAN --stage'),
        ', or pick two revisions above.'));
      return show(view, ...nodes);
    }
    const s = diff.summary || {};
    nodes.push(el('p', { id: 'diff-summary' }, picked ? 'revision ' + to : 'staged ' + diff.stagedPlanId, ' against ',
      (picked ? from : diff.appliedPlanId) || 'nothing', ': ',
      `${s.added || 0} added, ${s.removed || 0} removed, ${s.changed || 0} changed, ${s.unchanged || 0} unchanged`));
    if (!picked || to === diff.stagedPlanId) {
      nodes.push(el('div', { class: 'toolbar' }, el('button', { type: 'button', id: 'apply-staged', onclick: () =>
        act('Apply the staged plan ' + diff.stagedPlanId + '?', '/apply', () => { location.hash = '#/'; }) }, 'Apply staged plan')),
      el('p', { id: 'action-result', class: 'muted', 'aria-live': 'polite' }));
    }
    if (diff.added.length) nodes.push(el('h2', {}, 'Added'), el('ul', {}, diff.added.map((id) => el('li', { class: 'diff-new' }, '+ ', id))));
    if (diff.removed.length) nodes.push(el('h2', {}, 'Removed'), el('ul', {}, diff.removed.map((id) => el('li', { class: 'diff-old' }, '- ', id))));
    const [oldName, newName] = picked ? ['from', 'to'] : ['applied', 'staged'];
    for (const change of diff.changed) {
      nodes.push(el('h2', {}, '~ ', change.id), table(['field', 'change', oldName, newName], change.changes.map((c) => [
        el('code', {}, c.path), c.op, el('code', { class: 'diff-old' }, c.old === null ? '' : JSON.stringify(c.old)),
        el('code', { class: 'diff-new' }, c.new === null ? '' : JSON.stringify(c.new))])));
    }
    show(view, ...nodes);
  } catch (error) { show(view, title, failure(error)); }
}

// What runs the phases: the plugins this server loaded (GET /ready's plugins check), the executors
// the applied plan's phases name, and the `planter worker`s heard from over NATS (GET /workers).
async function workersPage(view) {
  try {
    const [{ body: ready }, { body: workers }, { body: planState }] = await Promise.all([
      api('/ready', { scope: 'server' }).catch((error) => ({ body: error.body })),
      api('/workers', { scope: 'server' }), api('/state')]);
    const plugins = ((ready && ready.checks) || []).find((c) => c.name === 'plugins') || { loaded: [], failures: [] };
    const used = new Map();
    for (const phase of planState.phases || []) {
      const labels = (phase.spec && phase.spec.selector && phase.spec.selector.matchLabels) || {};
      const executor = labels.executor || '(default)';
      used.set(executor, (used.get(executor) || 0) + 1);
    }
    show(view, el('h1', {}, 'Workers and executors'),
      el('h2', {}, 'Plugins loaded'), el('ul', { id: 'plugins' }, (plugins.loaded || []).map((name) => el('li', {}, name))),
      (plugins.failures || []).length ? table(['plugin that failed to load', 'reason'], plugins.failures.map((f) => [f.path, f.reason])) : [],
      el('h2', {}, 'Executors the applied plan uses'), table(['executor label', 'phases'], [...used].map(([name, n]) => [name, n])),
      el('h2', {}, 'Workers'), workers.nats
        ? table(['worker', 'pool', 'executors', 'in flight', 'capacity', 'last heartbeat'], workers.workers.map((w) =>
          [w.id, w.pool, w.executors.join(', '), w.inFlight, w.capacity, w.lastHeartbeat]))
        : el('p', { class: 'muted', id: 'no-workers' }, 'No NATS connection (NATS_URL): every phase runs on this server.'));
  } catch (error) { show(view, el('h1', {}, 'Workers and executors'), failure(error)); }
}

// MARK: Routing: #/, #/runs, #/runs/<id>, #/phases/<id>, #/diff[/<from>/<to>], #/workers

function route() {
  // Pages render after their requests answer: one started before the latest route must not show.
  const view = ++state.view;
  state.onStatus = null;
  state.waveOf = null;
  state.groupLabel = null;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = parts[0] || 'graph';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === page || (page === 'phases' && a.dataset.nav === 'graph')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (page === 'runs' && parts[1]) return runPage(view, parts[1]);
  if (page === 'runs') return runsPage(view);
  if (page === 'phases' && parts[1]) return phasePage(view, parts[1]);
  if (page === 'diff') return diffPage(view, parts[1], parts[2]);
  if (page === 'workers') return workersPage(view);
  return graphPage(view);
}

window.addEventListener('hashchange', route);

async function start() {
  try {
    await loadNamespaces();
  } catch (error) {
    if (error.status !== 401) show(state.view, failure(error));
    return;
  }
  route();
  watch();
}

start();
