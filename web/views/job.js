// One job: timeline, input, engine and image digest, outcome, resources,
// summary, logs, result download, cancel and resubmit. Updates live.

import { ApiError, api, downloadWithToken, events, getToken, submitFile } from '../api.js';
import {
  FINAL_STATES,
  badge,
  copyable,
  elapsedEl,
  formatAgo,
  formatBytes,
  formatDuration,
  h,
  replace,
  timeEl,
} from '../dom.js';

// Logs are capped by the service already; the page shows at most this much of each stream.
const LOG_DISPLAY_CHARS = 256 * 1024;

export function renderJob(container, id) {
  let disposed = false;
  let job = null;
  let logs = null;
  let logsError = null;
  let actionMessage = '';
  const body = h('div', { class: 'job-body' });
  const resubmit = h('section', { class: 'panel resubmit' });
  replace(
    container,
    h(
      'section',
      { class: 'job-view' },
      h('a', { class: 'back', href: '#/jobs', text: '← Jobs' }),
      body,
      resubmit,
    ),
  );

  const draw = () => {
    if (disposed || !job) return;
    replace(body, ...jobParts(job, logs, logsError, { cancel, download, actionMessage }));
  };

  const loadLogs = async () => {
    if (!FINAL_STATES.has(job.state) || logs || job.purgedAt) return;
    try {
      logs = await api.logs(job.id);
      logsError = null;
    } catch (error) {
      logsError = error.message;
    }
    draw();
  };

  const cancel = async () => {
    try {
      job = await api.cancel(job.id);
      actionMessage = '';
    } catch (error) {
      actionMessage =
        error.status === 409 ? 'The job had already finished.' : `Could not cancel: ${error.message}`;
    }
    draw();
  };

  const download = async (event) => {
    // With a token, the download must carry the Authorization header: fetch it instead of following the link.
    if (!getToken()) return;
    event.preventDefault();
    try {
      await downloadWithToken(resultHref(job), resultFileName(job));
    } catch (error) {
      actionMessage = `Download failed: ${error.message}`;
      draw();
    }
  };

  const unsubscribe = events.onJob((next) => {
    if (!job || next.id !== job.id) return;
    const wasFinal = FINAL_STATES.has(job.state);
    // Events carry the job without its webhook delivery: keep the last one known.
    job = { ...next, webhook: job.webhook };
    draw();
    loadLogs();
    // Once final, read the job once more for its webhook delivery (the event does not carry it).
    if (!wasFinal && FINAL_STATES.has(next.state) && job.webhook)
      api
        .job(next.id)
        .then((fresh) => {
          job = fresh;
          draw();
        })
        .catch(() => {});
  });

  api
    .job(id)
    .then((loaded) => {
      job = events.fresher(loaded);
      draw();
      renderResubmit(resubmit, job);
      loadLogs();
    })
    .catch((error) => {
      if (disposed) return;
      const message =
        error instanceof ApiError && error.status === 404 ? `No job with id “${id}”.` : error.message;
      replace(body, h('h1', { text: 'Job not found' }), h('p', { class: 'error', text: message }));
    });

  return () => {
    disposed = true;
    unsubscribe();
  };
}

/** Built here from the id rather than taken from the job's links, so that no URL in the page comes from data. */
function resultHref(job) {
  return `/api/v1/jobs/${encodeURIComponent(job.id)}/result`;
}

function resultFileName(job) {
  const base = job.input.name.replace(/[^\w.-]+/g, '_').slice(0, 80) || 'input';
  return `${base}.${job.engine}${job.result?.kind === 'archive' ? '.tar.gz' : '.result'}`;
}

function jobParts(job, logs, logsError, { cancel, download, actionMessage }) {
  const live = !FINAL_STATES.has(job.state);
  const actions = h(
    'div',
    { class: 'actions' },
    job.result && !job.purgedAt
      ? h('a', {
          class: 'button primary',
          href: resultHref(job),
          download: resultFileName(job),
          onclick: download,
          text: `Download result (${formatBytes(job.result.size)})`,
        })
      : null,
    live ? h('button', { type: 'button', class: 'danger', text: 'Cancel job', onclick: cancel }) : null,
  );
  return [
    h(
      'div',
      { class: 'job-head' },
      h(
        'div',
        { class: 'job-title' },
        h('h1', { class: 'file-name', title: job.input.name, text: job.input.name }),
        h(
          'div',
          { class: 'subtitle' },
          badge(job.state),
          ' ',
          h('span', { text: `on ${job.engine}` }),
          job.reason ? h('span', { class: 'reason-text', text: `· ${job.reason}` }) : null,
        ),
      ),
      actions,
    ),
    actionMessage ? h('p', { class: 'error', role: 'alert', text: actionMessage }) : null,
    job.purgedAt
      ? h(
          'p',
          { class: 'notice' },
          'Retention deleted this job’s input, result and logs on ',
          h('time', {
            datetime: job.purgedAt,
            title: job.purgedAt,
            text: new Date(job.purgedAt).toLocaleString(),
          }),
          '. Its record, hashes and summary remain.',
        )
      : null,
    timeline(job),
    h(
      'div',
      { class: 'cards' },
      card(
        'Outcome',
        [
          ['State', badge(job.state)],
          [
            'Exit code',
            job.exitCode === null ? null : h('span', { class: 'mono', text: String(job.exitCode) }),
          ],
          ['Reason', job.reason ? h('span', { class: 'reason-text', text: job.reason }) : null],
          ['Attempts', String(job.attempts)],
          ['Result', job.result ? `${job.result.kind}, ${formatBytes(job.result.size)}` : null],
        ],
        job.state === 'failed' ? 'failed' : null,
      ),
      card('Resources', [
        ['Duration', formatDuration(job.durationMs)],
        ['Peak memory', job.usage?.peakMemoryBytes == null ? null : formatBytes(job.usage.peakMemoryBytes)],
        ['CPU time', job.usage?.cpuMs == null ? null : formatDuration(job.usage.cpuMs)],
        ['Waited in queue', waitMs(job) === null ? null : formatDuration(waitMs(job))],
      ]),
      card('Input', [
        ['File name', h('span', { class: 'break', text: job.input.name })],
        ['Size', `${formatBytes(job.input.size)} (${job.input.size.toLocaleString('en')} bytes)`],
        ['SHA-256', copyable(job.input.sha256)],
        [
          'Same file',
          h('a', { href: `#/jobs?sha256=${job.input.sha256}`, text: 'all jobs with this SHA-256' }),
        ],
        ['Job id', copyable(job.id)],
      ]),
      card('Engine', [
        ['Engine', h('a', { href: `#/engines/${encodeURIComponent(job.engine)}`, text: job.engine })],
        [
          'Image digest',
          job.imageDigest
            ? copyable(job.imageDigest)
            : h('span', { class: 'muted', text: live ? 'recorded when it runs' : 'not recorded' }),
        ],
      ]),
      job.webhook ? webhookCard(job.webhook) : null,
    ),
    summaryPanel(job),
    logsPanel(job, logs, logsError),
  ];
}

function webhookCard(hook) {
  const tone = hook.state === 'failed' ? 'failed' : null;
  return card(
    'Webhook',
    [
      ['Callback', h('span', { class: 'mono break', text: hook.url })],
      ['Delivery', h('span', { class: `badge hook-${hook.state}`, text: hook.state })],
      ['Attempts', String(hook.attempts)],
      ['Last answer', hook.lastStatus === null ? null : `HTTP ${hook.lastStatus}`],
      ['Last error', hook.lastError ? h('span', { class: 'reason-text', text: hook.lastError }) : null],
      ['Delivered', hook.deliveredAt ? timeEl(hook.deliveredAt) : null],
      ['Next attempt', hook.nextAttemptAt ? timeEl(hook.nextAttemptAt) : null],
    ],
    tone,
  );
}

function waitMs(job) {
  if (!job.startedAt) return null;
  return new Date(job.startedAt).getTime() - new Date(job.createdAt).getTime();
}

function card(title, rows, tone) {
  return h(
    'section',
    { class: `card${tone ? ` tone-${tone}` : ''}` },
    h('h2', { text: title }),
    h(
      'dl',
      {},
      rows.map(([label, value]) => [
        h('dt', { text: label }),
        h('dd', {}, value ?? h('span', { class: 'muted', text: '—' })),
      ]),
    ),
  );
}

function timeline(job) {
  const finishedLabel =
    job.state === 'cancelled'
      ? 'Cancelled'
      : job.state === 'failed'
        ? 'Failed'
        : job.state === 'succeeded'
          ? 'Succeeded'
          : 'Finished';
  const steps = [
    { label: 'Submitted', at: job.createdAt, done: true, note: formatAgo(job.createdAt) },
    {
      label: 'Started',
      at: job.startedAt,
      done: Boolean(job.startedAt),
      current: job.state === 'running',
      note: job.startedAt
        ? `after ${formatDuration(waitMs(job))} in queue`
        : job.state === 'queued'
          ? 'waiting for a worker'
          : '',
    },
    {
      label: finishedLabel,
      at: job.finishedAt,
      done: Boolean(job.finishedAt) || FINAL_STATES.has(job.state),
      tone: job.state,
      note:
        job.durationMs !== null
          ? `ran ${formatDuration(job.durationMs)}`
          : job.state === 'running' && job.startedAt
            ? elapsedEl(job.startedAt, 'running for ')
            : '',
    },
  ];
  return h(
    'ol',
    { class: 'timeline', 'aria-label': 'status timeline' },
    steps.map((step) =>
      h(
        'li',
        {
          class: [
            'step',
            step.done ? 'done' : 'todo',
            step.current ? 'current' : '',
            step.done && step.tone ? `tone-${step.tone}` : '',
          ]
            .filter(Boolean)
            .join(' '),
        },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        h('span', { class: 'step-label', text: step.label }),
        h('span', { class: 'step-time' }, timeEl(step.at)),
        step.note ? h('span', { class: 'step-note' }, step.note) : null,
      ),
    ),
  );
}

function summaryPanel(job) {
  let content;
  let kind = '';
  if (job.summary === null || job.summary === '') {
    content = h('p', {
      class: 'muted',
      text: FINAL_STATES.has(job.state)
        ? 'No summary (the result is not text, or is empty).'
        : 'The summary appears when the job finishes.',
    });
  } else {
    let pretty = null;
    try {
      const parsed = JSON.parse(job.summary);
      if (parsed !== null && typeof parsed === 'object') pretty = JSON.stringify(parsed, null, 2);
    } catch {
      // Not JSON (or cut short): shown as the text it is.
    }
    kind = pretty ? 'JSON' : 'text';
    content = h('pre', { class: `summary ${pretty ? 'json' : 'text'}`, text: pretty ?? job.summary });
  }
  return h(
    'section',
    { class: 'panel' },
    h('h2', {}, 'Summary ', kind ? h('span', { class: 'tag', text: kind }) : null),
    content,
  );
}

function logsPanel(job, logs, logsError) {
  let content;
  if (job.purgedAt) {
    content = h('p', { class: 'muted', text: 'Deleted by retention.' });
  } else if (!FINAL_STATES.has(job.state)) {
    content = h('p', { class: 'muted', text: 'stdout and stderr are kept when the container exits.' });
  } else if (logsError) {
    content = h('p', { class: 'error', text: `Could not load the logs: ${logsError}` });
  } else if (!logs) {
    content = h('p', { class: 'muted', text: 'Loading…' });
  } else {
    content = h(
      'div',
      { class: 'logs' },
      stream('stdout', logs.stdout, logs.stdoutBytes),
      stream('stderr', logs.stderr, logs.stderrBytes),
    );
  }
  return h(
    'section',
    { class: 'panel' },
    h(
      'h2',
      {},
      'Logs ',
      logs?.truncated ? h('span', { class: 'tag warn', text: 'truncated by the service' }) : null,
    ),
    content,
  );
}

function stream(name, text, bytes) {
  const shown = text.length > LOG_DISPLAY_CHARS ? text.slice(0, LOG_DISPLAY_CHARS) : text;
  return h(
    'div',
    { class: `stream stream-${name}` },
    h(
      'div',
      { class: 'stream-head' },
      h('span', { class: 'stream-name', text: name }),
      h('span', { class: 'muted', text: bytes === null ? '' : formatBytes(bytes) }),
    ),
    text
      ? h('pre', { class: 'log', text: shown })
      : h('pre', { class: 'log empty', text: `(${name} was empty)` }),
    text.length > LOG_DISPLAY_CHARS
      ? h('p', { class: 'muted', text: `showing the first ${formatBytes(LOG_DISPLAY_CHARS)}` })
      : null,
  );
}

/** "Run again": the service does not give inputs back, so the user chooses the file again; its SHA-256 must match. */
function renderResubmit(section, job) {
  const fileInput = h('input', { type: 'file', name: 'resubmit-file' });
  const status = h('p', { class: 'muted', role: 'status' });
  const engineBoxes = h('div', { class: 'engine-choices compact' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Run again', disabled: true });
  let engineNames = [job.engine];

  api
    .engines()
    .then(({ engines }) => {
      engineNames = engines.map((e) => e.name);
      replace(
        engineBoxes,
        engines.map((e) =>
          h(
            'label',
            { class: 'check' },
            h('input', { type: 'checkbox', name: 'engine', value: e.name, checked: e.name === job.engine }),
            e.name,
          ),
        ),
      );
    })
    .catch(() => replace(engineBoxes, h('span', { class: 'muted', text: job.engine })));

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files[0];
    button.disabled = true;
    if (!file) return;
    status.textContent = 'Checking the file’s SHA-256…';
    const sha = await sha256Of(file);
    if (sha === null) {
      status.textContent =
        'This browser cannot hash files here (needs https or localhost); the file will be sent as chosen.';
      button.disabled = false;
    } else if (sha !== job.input.sha256) {
      status.textContent = `This is not the same file: its SHA-256 is ${sha}.`;
    } else {
      status.textContent = 'Same file (SHA-256 matches).';
      button.disabled = false;
    }
  });

  const submit = async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const chosen = [...engineBoxes.querySelectorAll('input:checked')].map((i) => i.value);
    const engines = chosen.length ? chosen : engineNames.includes(job.engine) ? [job.engine] : [];
    if (!file || engines.length === 0) return;
    button.disabled = true;
    try {
      const jobs = await submitFile(file, engines, (sent, total) => {
        status.textContent = `Uploading… ${Math.round((sent / total) * 100)} %`;
      });
      location.hash =
        jobs.length === 1 ? `#/jobs/${encodeURIComponent(jobs[0].id)}` : `#/jobs?sha256=${job.input.sha256}`;
    } catch (error) {
      status.textContent = `Could not submit: ${error.message}`;
      button.disabled = false;
    }
  };

  replace(
    section,
    h(
      'details',
      {},
      h('summary', { text: 'Run this file again' }),
      h(
        'form',
        { class: 'resubmit-form', onsubmit: submit },
        h('p', {
          class: 'muted',
          text: 'The service does not hand inputs back. Choose the same file again (its SHA-256 is checked), pick engines, and run.',
        }),
        h('label', { class: 'file-pick' }, 'File ', fileInput),
        engineBoxes,
        h('div', { class: 'row' }, button, status),
      ),
    ),
  );
}

async function sha256Of(file) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
