// The dashboard's graphs (loaded after app.js and live.js, before pages.js): the applied plan's,
// live, collapsed by wave or label past PLANTER_GRAPH_MAX_NODES with a filterable table; a run's.
'use strict';

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

// The graph of the revision the run ran (from the history if it is no longer applied), each node
// coloured with that run's status by the server (GET /graph.svg?runId=): collapsed past
// PLANTER_GRAPH_MAX_NODES like the plan's, each group with its count and its phases' most urgent status.
async function runGraph(view, runId, run) {
  const holder = document.getElementById('run-graph');
  if (!run.planId) { holder.replaceChildren(el('p', { class: 'muted' }, 'This run names no plan revision.')); return; }
  const groupBy = state.groupBy && state.groupBy !== 'wave' ? '&groupBy=' + encodeURIComponent(state.groupBy) : '';
  try {
    const { body, response } = await api('/graph.svg?runId=' + encodeURIComponent(runId) + groupBy, { text: true });
    if (view !== state.view) return;
    holder.innerHTML = body;  // our own server's SVG: dot escapes every label
    if (response.headers.get('X-Planter-Graph') === 'collapsed') {
      holder.prepend(el('p', { class: 'muted', id: 'run-graph-note' }, 'Plan ' + run.planId + ' has too many phases to draw one by one: ',
        'each node is a ' + (response.headers.get('X-Planter-Group-By') || 'wave').replace(/^label:/, 'value of the label ') +
        ' with its phase count, coloured by the most urgent status of its phases in this run; the table below lists them.'));
    }
    holder.querySelector('svg').addEventListener('click', (event) => openNode(event.target.closest('g.node')));
  } catch (error) { if (view === state.view) holder.replaceChildren(failure(error)); }
}
