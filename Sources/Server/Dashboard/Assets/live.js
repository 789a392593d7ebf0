// The dashboard's live part: GET /status polled every 2 s, and the event stream of the run in
// progress followed while it runs, recolouring nodes in place (see app.js for the API helpers).
'use strict';

// MARK: Live updates: /status polled slowly, the run's event stream followed while one runs

function paint(statuses) {
  repaintWaves();
  for (const node of document.querySelectorAll('#graph svg.plan-graph g.node[data-phase]')) {
    const status = statuses[node.getAttribute('data-phase')];
    if (status && node.getAttribute('data-status') !== status) node.setAttribute('data-status', status);
  }
  for (const cell of document.querySelectorAll('[data-phase-status]')) {
    const status = statuses[cell.getAttribute('data-phase-status')];
    if (status) { cell.setAttribute('data-status', status); cell.textContent = status; }
  }
}

// A collapsed graph: each group's node (a wave, or a value of the label grouped by) shows the
// most urgent status of its phases (as the server's GraphSVG.aggregate does), recomputed at most
// twice a second however fast events come.
const URGENT = ['running', 'waiting', 'failed', 'timedOut', 'cancelled'];
function waveStatus(statuses) {
  if (statuses.length === 1) return statuses[0];
  const present = new Set(statuses);
  for (const status of URGENT) if (present.has(status)) return status;
  if (!present.size || present.has('pending')) return 'pending';
  return present.has('succeeded') ? 'succeeded' : 'skipped';
}

function repaintWaves() {
  if (!state.waveOf || state.waveTimer) return;
  state.waveTimer = setTimeout(() => {
    state.waveTimer = null;
    const phases = (state.status && state.status.phases) || {};
    const label = state.groupLabel;
    const byGroup = new Map();
    for (const [id, wave] of state.waveOf) {
      const group = label ? (state.labelsOf.get(id)[label] ?? null) : wave;
      if (!byGroup.has(group)) byGroup.set(group, []);
      byGroup.get(group).push(phases[id] || 'pending');
    }
    for (const node of document.querySelectorAll('#graph svg.plan-graph g.node[data-wave], #graph svg.plan-graph g.node[data-label]')) {
      const group = node.hasAttribute('data-wave') ? Number(node.getAttribute('data-wave')) : node.getAttribute('data-value');
      const statuses = byGroup.get(group);
      if (statuses) node.setAttribute('data-status', waveStatus(statuses));
    }
  }, 500);
}

function setPhase(id, status) {
  if (!id || !status) return;
  if (state.status && state.status.phases) state.status.phases[id] = status;
  paint({ [id]: status });
}

const EVENT_STATUS = { attemptStarted: 'running', retryScheduled: 'waiting' };

function onEvent(event) {
  if (event.type === 'phaseFinished') setPhase(event.phaseId, event.details && event.details.status);
  else if (EVENT_STATUS[event.type]) setPhase(event.phaseId, EVENT_STATUS[event.type]);
  // A phase a rerun leaves out is `phaseSkipped` in that run but keeps its earlier outcome:
  // /status knows which, so ask it rather than paint it skipped.
  if (event.type === 'runFinished' || event.type === 'runStarted' || event.type === 'phaseSkipped') watchSoon();
  document.getElementById('live').textContent = 'live: ' + event.type + (event.phaseId ? ' ' + event.phaseId : '');
}

function stopFollowing() {
  if (state.follow) state.follow.abort();
  state.follow = null;
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
async function follow(runId) {
  stopFollowing();
  const controller = new AbortController();
  state.follow = controller;
  state.followedRun = runId;
  try {
    const response = await fetch(prefix() + '/logs?follow=true&runId=' + encodeURIComponent(runId) + '&limit=2000',
      { headers: headers(), signal: controller.signal });
    if (!response.ok || !response.body) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data) { try { onEvent(JSON.parse(data)); } catch (_) { /* a partial or foreign line */ } }
      }
    }
  } catch (_) {
    // aborted, or the connection dropped: the next poll starts again
  } finally {
    if (state.follow === controller) { state.follow = null; state.followedRun = null; }
  }
}

async function watch() {
  clearTimeout(state.poll);
  try {
    const { body } = await api('/status');
    state.status = body;
    paint(body.phases || {});
    const live = document.getElementById('live');
    if (body.activeRunId) {
      live.textContent = 'run ' + body.activeRunId + ' ' + body.status + (body.paused ? ' (paused)' : '');
      if (state.followedRun !== body.activeRunId) follow(body.activeRunId);
    } else if (!state.follow) {
      live.textContent = 'idle';
    }
    if (state.onStatus) state.onStatus(body);
  } catch (_) { /* shown by the page itself */ }
  state.poll = setTimeout(watch, 2000);
}

function watchSoon() { clearTimeout(state.poll); state.poll = setTimeout(watch, 150); }
