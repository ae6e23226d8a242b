// The console's only door to the service: the public HTTP API under /api/v1.
// A bearer token, when the user gave one, is kept for this browser session
// only (sessionStorage) and sent on every call.

const TOKEN_KEY = 'menagerie.token';
const API = '/api/v1';

/** An API error: `status` (HTTP), `code` and `message` from the error body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const unauthorizedListeners = new Set();

/** `fn()` runs whenever a call answers 401 (the app shows the token prompt). */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  events.restart();
}

function authHeaders() {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function errorFrom(status, readBody) {
  let code = `HTTP_${status}`;
  let message = `the service answered ${status}`;
  try {
    const body = await readBody();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON (a proxy's error page): keep the generic message.
  }
  if (status === 401) for (const fn of unauthorizedListeners) fn();
  return new ApiError(status, code, message);
}

/** Calls the API; resolves with the parsed JSON body, rejects with ApiError. */
export async function call(path, { method = 'GET', query } = {}) {
  const url = new URL(`${API}${path}`, location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
  }
  let response;
  try {
    response = await fetch(url, { method, headers: { accept: 'application/json', ...authHeaders() } });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'the service does not answer; is it running?');
  }
  if (!response.ok) throw await errorFrom(response.status, () => response.json());
  return response.json();
}

export const api = {
  engines: () => call('/engines'),
  jobs: (query) => call('/jobs', { query }),
  job: (id) => call(`/jobs/${encodeURIComponent(id)}`),
  logs: (id) => call(`/jobs/${encodeURIComponent(id)}/logs`),
  cancel: (id) => call(`/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }),
};

/**
 * Fetches a job's result with the token and hands it to the browser as a
 * download (a plain link cannot carry an Authorization header).
 */
export async function downloadWithToken(href, fileName) {
  const response = await fetch(href, { headers: authHeaders() });
  if (!response.ok) throw await errorFrom(response.status, () => response.json());
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Uploads one file to one or more engines (POST /api/v1/jobs). The engine
 * fields go before the file so that the server can apply the size limit
 * while the file streams. `onProgress(sentBytes, totalBytes)`.
 * Resolves with the created jobs; rejects with ApiError.
 */
export function submitFile(file, engines, onProgress, { callback } = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const engine of engines) form.append('engine', engine);
    if (callback) form.append('callback', callback);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API}/jobs`);
    xhr.responseType = 'json';
    for (const [key, value] of Object.entries(authHeaders())) xhr.setRequestHeader(key, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded, event.total);
    };
    xhr.onload = async () => {
      if (xhr.status === 201) return resolve(xhr.response.jobs);
      reject(await errorFrom(xhr.status, () => xhr.response));
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'UNREACHABLE', 'the upload was cut off (the service closed the connection)'));
    xhr.send(form);
  });
}

/**
 * The live event stream (GET /api/v1/events), shared by every view. One
 * EventSource for the page; listeners get each job as it changes. EventSource
 * cannot send headers, so the token rides as `access_token` in the URL.
 */
function createEvents() {
  const jobListeners = new Set();
  // The latest version of each job seen on the stream: a page that fetched a job while an event was
  // on its way (a submit answer racing its "running" event) shows the fresher of the two.
  const latest = new Map();
  const LATEST_MAX = 2000;
  const statusListeners = new Set();
  let source = null;
  let status = 'connecting';
  let retryTimer = null;

  const setStatus = (next) => {
    status = next;
    for (const fn of statusListeners) fn(status);
  };

  const open = () => {
    const token = getToken();
    const url = token ? `${API}/events?access_token=${encodeURIComponent(token)}` : `${API}/events`;
    source = new EventSource(url);
    setStatus('connecting');
    source.addEventListener('open', () => setStatus('live'));
    source.addEventListener('error', () => {
      if (source.readyState !== 2) return setStatus('reconnecting');
      // Closed for good (the server refused the stream): try again later, not in a tight loop.
      setStatus('offline');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => events.restart(), 5_000);
    });
    source.addEventListener('job', (event) => {
      let job;
      try {
        job = JSON.parse(event.data);
      } catch {
        return;
      }
      latest.delete(job.id);
      latest.set(job.id, job);
      if (latest.size > LATEST_MAX) latest.delete(latest.keys().next().value);
      for (const fn of jobListeners) fn(job);
    });
  };

  return {
    start() {
      if (!source) open();
    },
    restart() {
      clearTimeout(retryTimer);
      if (source) source.close();
      source = null;
      open();
    },
    /** Calls `fn(job)` on every job event; returns the unsubscribe function. */
    onJob(fn) {
      jobListeners.add(fn);
      return () => jobListeners.delete(fn);
    },
    /** The fresher of `job` and the last version of it seen on the stream. */
    fresher(job) {
      const seen = latest.get(job.id);
      return seen && stateRank(seen) > stateRank(job) ? seen : job;
    },
    onStatus(fn) {
      statusListeners.add(fn);
      fn(status);
      return () => statusListeners.delete(fn);
    },
  };
}

const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
function stateRank(job) {
  return RANK[job.state] ?? 0;
}

export const events = createEvents();
