// The dashboard's pages and its hash routing (loaded after app.js, live.js and graph.js; starts the page).
'use strict';

// MARK: Pages (the graphs: graph.js)

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

// Kept up to date: a run starting (the long poll for the next run) or ending (its event stream)
// makes watch() read /status, and a change of the run in progress lists the runs again.
async function runsPage(view) {
  show(view, el('h1', {}, 'Runs'), el('p', { class: 'muted' }, 'loading…'));
  const render = async () => {
    try {
      const { body } = await api('/runs?limit=100');
      show(view, el('h1', {}, 'Runs'), table(['run', 'status', 'started', 'duration', 'trigger', 'by', 'phases'],
        body.runs.map((r) => [runLink(r.runId), badge(r.status), r.startedAt || '-', duration(r.durationMs), r.trigger || '-',
          r.triggeredBy || '-', counts(r.summary)])));
    } catch (error) { show(view, el('h1', {}, 'Runs'), failure(error)); }
  };
  let shownRun = state.status ? state.status.activeRunId : null;
  state.onStatus = (status) => {
    if (status.activeRunId === shownRun) return;
    shownRun = status.activeRunId;
    render();
  };
  await render();
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
    if (view === state.view) runGraph(view, id, run);
  } catch (error) { show(view, el('h1', {}, 'Run ', id), failure(error)); }
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
  waitForRuns();
}

start();
