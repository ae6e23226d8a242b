// Submit: drop files, choose engines, upload with progress, then follow the jobs live.

import { api, events, submitFile } from '../api.js';
import { formatBytes, h, replace } from '../dom.js';
import { jobRow, jobTable } from './jobs.js';

export function renderSubmit(container) {
  let disposed = false;
  let engines = [];
  let files = [];
  let uploading = false;
  const followed = new Map();

  const fileInput = h('input', {
    type: 'file',
    multiple: true,
    id: 'submit-files',
    name: 'files',
    class: 'visually-hidden',
  });
  const dropzone = h(
    'label',
    { class: 'dropzone', for: 'submit-files' },
    h('span', { class: 'drop-icon', 'aria-hidden': 'true', text: '⇪' }),
    h('strong', { text: 'Drop files here' }),
    h('span', { class: 'muted', text: 'or click to choose; one or many' }),
  );
  const fileList = h('ul', { class: 'file-list' });
  const engineList = h(
    'div',
    { class: 'engine-choices' },
    h('span', { class: 'muted', text: 'Loading engines…' }),
  );
  const submitButton = h('button', { type: 'submit', class: 'primary big', disabled: true, text: 'Submit' });
  const message = h('p', { class: 'form-message', role: 'status' });
  const uploads = h('ul', { class: 'uploads' });
  const callbackInput = h('input', {
    type: 'url',
    name: 'callback',
    placeholder: 'https://…',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const jobsHolder = h('div', { class: 'followed' });

  const chosenEngines = () =>
    [...engineList.querySelectorAll('input[name=engine]:checked')].map((i) => i.value);
  const limitOf = (name) => engines.find((e) => e.name === name)?.sizeLimitBytes ?? Infinity;

  const refresh = () => {
    const chosen = chosenEngines();
    replace(
      fileList,
      files.map((file, index) => {
        const tooBigFor = chosen.filter((name) => file.size > limitOf(name));
        return h(
          'li',
          {},
          h('span', { class: 'file-name', title: file.name, text: file.name }),
          h('span', { class: 'muted num', text: formatBytes(file.size) }),
          tooBigFor.length
            ? h('span', { class: 'warn-text', text: `over the size limit of ${tooBigFor.join(', ')}` })
            : null,
          h('button', {
            type: 'button',
            class: 'ghost small',
            'aria-label': `remove ${file.name}`,
            text: '×',
            disabled: uploading,
            onclick: () => {
              files.splice(index, 1);
              refresh();
            },
          }),
        );
      }),
    );
    const pairs = files.reduce((n, f) => n + chosen.filter((name) => f.size <= limitOf(name)).length, 0);
    submitButton.disabled = uploading || pairs === 0;
    submitButton.textContent =
      files.length && chosen.length
        ? `Submit ${plural(files.length, 'file')} to ${plural(chosen.length, 'engine')} (${plural(pairs, 'job')})`
        : 'Submit';
    dropzone.classList.toggle('has-files', files.length > 0);
    if (!uploading)
      message.textContent = !files.length
        ? 'Add one or more files.'
        : !chosen.length
          ? 'Choose at least one engine.'
          : pairs === 0
            ? 'Every file is over the size limit of the chosen engines.'
            : '';
  };

  const addFiles = (list) => {
    for (const file of list) {
      if (
        !files.some(
          (f) => f.name === file.name && f.size === file.size && f.lastModified === file.lastModified,
        )
      )
        files.push(file);
    }
    refresh();
  };
  fileInput.addEventListener('change', () => {
    addFiles(fileInput.files);
    fileInput.value = '';
  });
  for (const type of ['dragenter', 'dragover']) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'drop']) {
    dropzone.addEventListener(type, () => dropzone.classList.remove('dragging'));
  }
  dropzone.addEventListener('drop', (event) => {
    event.preventDefault();
    if (event.dataTransfer?.files?.length) addFiles(event.dataTransfer.files);
  });

  let table = null;
  const follow = (answer) => {
    const job = events.fresher(answer);
    const tr = jobRow(job);
    const existing = followed.get(job.id);
    if (existing) existing.replaceWith(tr);
    followed.set(job.id, tr);
    if (!table) {
      table = jobTable([]);
      table.tBodies[0].replaceChildren();
      replace(
        jobsHolder,
        h(
          'div',
          { class: 'view-head' },
          h('h2', { text: 'Your jobs' }),
          h('span', { class: 'muted', text: 'updating live' }),
        ),
        table,
      );
    }
    if (!existing) table.tBodies[0].prepend(tr);
    else tr.classList.add('changed');
  };
  const unsubscribe = events.onJob((job) => {
    if (followed.has(job.id)) follow(job);
  });

  const submit = async (event) => {
    event.preventDefault();
    const chosen = chosenEngines();
    if (!files.length || !chosen.length) return;
    uploading = true;
    refresh();
    message.textContent = '';
    const batch = files;
    files = [];
    for (const file of batch) {
      const targets = chosen.filter((name) => file.size <= limitOf(name));
      const bar = h('progress', { max: file.size || 1, value: 0 });
      const state = h('span', { class: 'muted', text: targets.length ? 'waiting' : 'skipped: too large' });
      const item = h(
        'li',
        {},
        h('span', { class: 'file-name', title: file.name, text: file.name }),
        h('span', { class: 'muted', text: `→ ${targets.join(', ') || '—'}` }),
        bar,
        state,
      );
      uploads.prepend(item);
      if (!targets.length) continue;
      try {
        const jobs = await submitFile(
          file,
          targets,
          (sent, total) => {
            bar.max = total;
            bar.value = sent;
            state.textContent = `${Math.floor((sent / total) * 100)} %`;
          },
          { callback: callbackInput.value.trim() },
        );
        bar.value = bar.max;
        state.textContent = `${plural(jobs.length, 'job')} created`;
        item.classList.add('ok');
        if (!disposed) for (const job of jobs) follow(job);
      } catch (error) {
        state.textContent = error.message;
        item.classList.add('failed');
      }
    }
    uploading = false;
    if (!disposed) refresh();
  };

  replace(
    container,
    h(
      'section',
      { class: 'submit-view' },
      h('div', { class: 'view-head' }, h('h1', { text: 'Submit files' })),
      h(
        'form',
        { class: 'submit-form', onsubmit: submit },
        h(
          'div',
          { class: 'submit-grid' },
          h('div', { class: 'panel' }, h('h2', { text: '1 · Files' }), dropzone, fileInput, fileList),
          h('div', { class: 'panel' }, h('h2', { text: '2 · Engines' }), engineList),
        ),
        h(
          'details',
          { class: 'options' },
          h('summary', { text: 'Options' }),
          h(
            'label',
            { class: 'option' },
            'Webhook called when each job is final ',
            callbackInput,
            h('span', { class: 'muted', text: "must be on the operator's allowlist" }),
          ),
        ),
        h('div', { class: 'row' }, submitButton, message),
      ),
      uploads,
      jobsHolder,
    ),
  );

  api
    .engines()
    .then((answer) => {
      if (disposed) return;
      engines = answer.engines;
      replace(
        engineList,
        engines.length
          ? engines.map((e) =>
              h(
                'label',
                { class: `check engine-choice${e.available ? '' : ' unavailable'}` },
                h('input', {
                  type: 'checkbox',
                  name: 'engine',
                  value: e.name,
                  checked: engines.length === 1,
                  onchange: refresh,
                }),
                h(
                  'span',
                  { class: 'choice-text' },
                  h('strong', { text: e.name }),
                  h('span', {
                    class: 'muted',
                    text: [
                      e.description,
                      `up to ${formatBytes(e.sizeLimitBytes)}`,
                      e.available ? null : 'image missing',
                    ]
                      .filter(Boolean)
                      .join(' · '),
                  }),
                ),
              ),
            )
          : h('p', { class: 'muted', text: 'No engines are configured.' }),
      );
      refresh();
    })
    .catch((error) =>
      replace(engineList, h('p', { class: 'error', text: `Could not load engines: ${error.message}` })),
    );

  return () => {
    disposed = true;
    unsubscribe();
  };
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
