// The console: a hash router over five views, the live-event indicator and the
// token prompt. Views render into <main id="view"> and return a cleanup function.

import { events, getToken, onUnauthorized, setToken } from './api.js';
import { h, replace } from './dom.js';
import { renderActivity } from './views/activity.js';
import { renderEngines } from './views/engines.js';
import { renderJob } from './views/job.js';
import { renderJobs } from './views/jobs.js';
import { renderSubmit } from './views/submit.js';

const view = document.getElementById('view');
let cleanup = null;

/** Parses "#/jobs/abc?state=failed" → { path: ['jobs','abc'], query: URLSearchParams }. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  const path = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { path, query: new URLSearchParams(queryPart) };
}

function route() {
  const { path, query } = parseHash();
  if (path.length === 0) {
    location.replace('#/jobs');
    return;
  }
  if (cleanup) cleanup();
  cleanup = null;
  const [section, id] = path;
  for (const tab of document.querySelectorAll('.tabs a')) {
    tab.classList.toggle('active', tab.dataset.route === section);
  }
  const container = replace(view, h('div', { class: 'loading', text: 'Loading…' }));
  try {
    if (section === 'jobs' && id) cleanup = renderJob(container, id);
    else if (section === 'jobs') cleanup = renderJobs(container, query);
    else if (section === 'submit') cleanup = renderSubmit(container);
    else if (section === 'engines') cleanup = renderEngines(container, id);
    else if (section === 'activity') cleanup = renderActivity(container);
    else
      replace(
        container,
        h(
          'section',
          { class: 'empty' },
          h('h1', { text: 'Not found' }),
          h('a', { href: '#/jobs', text: 'Jobs' }),
        ),
      );
  } catch (error) {
    replace(container, h('p', { class: 'error', text: String(error) }));
  }
}

function setupLiveIndicator() {
  const el = document.getElementById('live');
  const labels = {
    live: 'live',
    connecting: 'connecting…',
    reconnecting: 'reconnecting…',
    offline: 'offline',
  };
  let dropped = false;
  events.onStatus((status) => {
    el.textContent = labels[status] ?? status;
    el.dataset.status = status;
    if (status === 'reconnecting' || status === 'offline') dropped = true;
    if (status === 'live' && dropped) {
      dropped = false;
      // Events sent while the stream was down are lost: read the page afresh (not the submit
      // page, whose uploads in progress would be lost with it).
      if (parseHash().path[0] !== 'submit') route();
    }
  });
}

function setupTokenDialog() {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const reason = document.getElementById('token-reason');
  const button = document.getElementById('token-button');
  const refreshButton = () => {
    button.textContent = getToken() ? 'Token ✓' : 'Token';
    button.title = getToken() ? 'a token is set for this tab' : 'no token set (auth off or not yet asked)';
  };
  const open = (why) => {
    if (dialog.open) return;
    reason.textContent = why;
    input.value = getToken();
    dialog.showModal();
    input.focus();
  };
  button.addEventListener('click', () =>
    open('A bearer token for the service. It is kept for this browser tab only (sessionStorage).'),
  );
  onUnauthorized(() =>
    open('The service answered 401: it needs an access token. It is kept for this browser tab only.'),
  );
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    dialog.close();
    refreshButton();
    route();
  });
  document.getElementById('token-cancel').addEventListener('click', () => dialog.close());
  document.getElementById('token-clear').addEventListener('click', () => {
    setToken('');
    input.value = '';
    dialog.close();
    refreshButton();
    route();
  });
  refreshButton();
}

setupLiveIndicator();
setupTokenDialog();
events.start();
window.addEventListener('hashchange', route);
route();
