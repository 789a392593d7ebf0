// The dashboard's live part: the run in progress is followed through its event stream
// (GET /logs?follow=true), recolouring nodes in place, and the next run is waited for with a
// long poll (GET /runs?waitAfter=): GET /status is read once at each change, and polled slowly
// only while the long poll fails (see app.js for the API helpers).
'use strict';

// MARK: Live updates: the run's event stream, the long poll for the next one

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
  let ended = false;
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
        let event = null;
        try { event = JSON.parse(data); } catch (_) { /* a partial or foreign line */ }
        if (event) { ended = ended || event.type === 'runFinished'; onEvent(event); }
      }
    }
  } catch (_) {
    // aborted, or the connection dropped
  } finally {
    if (state.follow === controller) {
      state.follow = null;
      state.followedRun = null;
      // Dropped before the run's end: nothing else would notice it end, so read /status again soon (it follows again).
      if (!ended && !controller.signal.aborted) { clearTimeout(state.poll); state.poll = setTimeout(watch, 3000); }
    }
  }
}

// Reads /status once: paints it, follows the run in progress, tells the page.
async function watch() {
  clearTimeout(state.poll);
  try {
    const { body } = await api('/status');
    state.status = body;
    paint(body.phases || {});
    const live = document.getElementById('live');
    if (body.activeRunId) {
      live.textContent = 'run ' + body.activeRunId + ' ' + body.status + (body.paused ? ' (paused)' : '');
      if (state.followedRun !== body.activeRunId) state.following = follow(body.activeRunId);
    } else if (!state.follow) {
      live.textContent = 'idle';
    }
    if (state.onStatus) state.onStatus(body);
  } catch (_) { /* shown by the page itself */ }
}

function watchSoon() { clearTimeout(state.poll); state.poll = setTimeout(watch, 150); }

const WAIT_SECONDS = 25;
const FALLBACK_POLL_MS = 10000;
const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});
const until = (promise, signal) => new Promise((resolve) => {
  promise.then(resolve, resolve);
  signal.addEventListener('abort', resolve, { once: true });
});

// Waits for each next run of the namespace (one request at a time, each answered when a run
// starts, after WAIT_SECONDS, or at the server's shutdown) and reads /status when one starts.
// Not while a run's stream is followed: no run starts before that one ends (one at a time), its
// end reads /status, and a browser opens at most 6 connections to a server for all its tabs
// together, so each tab holds one at a time. Started again (the previous loop aborted) at
// sign-in and when the namespace changes.
async function waitForRuns() {
  if (state.runWait) state.runWait.abort();
  const controller = new AbortController();
  state.runWait = controller;
  const { signal } = controller;
  let known = null;  // the newest run id seen ('' for none); null until the first answer
  while (!signal.aborted) {
    if (state.follow && state.following) { await until(state.following, signal); continue; }
    const asked = Date.now();
    try {
      const wait = known === null ? '' : '&timeout=' + WAIT_SECONDS + '&waitAfter=' + encodeURIComponent(known);
      const { body } = await api('/runs?limit=1' + wait, { signal });
      const newest = body.runs.length ? body.runs[0].runId : '';
      // Read before the next wait, so that the new run's stream is followed by then.
      if (known !== null && newest !== known) await watch();
      // The same run, well before the timeout: the server is shutting down. Ask again later.
      const early = known !== null && newest === known && Date.now() - asked < (WAIT_SECONDS - 2) * 1000;
      known = newest;
      if (early) await sleep(5000, signal);
    } catch (_) {
      if (signal.aborted) return;
      // The long poll failed (a proxy that cuts it, a server on its way down): poll slowly until it works again.
      watch();
      await sleep(FALLBACK_POLL_MS, signal);
    }
  }
}
