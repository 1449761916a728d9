// The account page's files: browse folders, upload files and zips (with progress), download,
// delete — all through the files API (`/users/api/files/...`).
import { ensims, filesUrl, problem } from './api.js';
import { $, el, say } from './ui.js';

let folder = '';
let sessionEnded = () => {};

/** Wires the controls; `onSessionEnded` runs when the API answers 401. */
export function initFiles({ onSessionEnded }) {
  sessionEnded = onSessionEnded;
  $('files-up').addEventListener('click', () => {
    folder = folder.split('/').slice(0, -1).join('/');
    loadFiles().then(() => $('files-caption').focus());
  });
  $('upload-form').addEventListener('submit', onUpload);
}

/** Lists the current folder. */
export async function loadFiles() {
  const reply = await ensims('GET', filesUrl(folder));
  if (reply.status === 401) {
    sessionEnded();
    return;
  }
  if (reply.status !== 200 || !reply.body || !Array.isArray(reply.body.children)) {
    say($('files-msg'), problem(reply), 'error');
    return;
  }
  $('files-folder').textContent = `/${folder}`;
  $('files-up').hidden = folder === '';
  $('files-caption').setAttribute('tabindex', '-1');
  const rows = reply.body.children.map(row);
  if (rows.length === 0) {
    rows.push(el('tr', {}, el('td', { colspan: 3, text: 'This folder is empty.' })));
  }
  $('files-body').replaceChildren(...rows);
}

function isFolder(node) {
  // The tree marks folders `nocheck` (files are `nocheck: false`).
  return node.nocheck === true;
}

function row(node) {
  const path = folder ? `${folder}/${node.fileName}` : node.fileName;
  const actions = el('div', { class: 'row-actions' });
  let name;
  if (isFolder(node)) {
    name = el('button', {
      type: 'button',
      class: 'link',
      'aria-label': `Open folder ${node.fileName}`,
      onclick: () => {
        folder = path;
        loadFiles().then(() => $('files-caption').focus());
      },
    }, `${node.fileName}/`);
  } else {
    name = document.createTextNode(node.fileName);
    actions.append(el('a', {
      class: 'button secondary',
      href: filesUrl(path),
      download: node.fileName,
      'aria-label': `Download ${node.fileName}`,
    }, 'Download'));
  }
  actions.append(el('button', {
    type: 'button',
    class: 'danger',
    'aria-label': `Delete ${node.fileName}`,
    onclick: () => remove(path, isFolder(node)),
  }, 'Delete'));
  const size = isFolder(node) ? 'folder' : sizeOf(node);
  return el('tr', {}, el('td', {}, name), el('td', { class: 'num', text: size }), el('td', {}, actions));
}

/** The size the API wrote into the node's name (`win.ini (0.17 KB)`), else bytes. */
function sizeOf(node) {
  const match = /\(([^()]+)\)$/.exec(node.name || '');
  return match ? match[1] : `${node.fileSize} B`;
}

async function remove(path, folderToo) {
  const what = folderToo ? `the folder ${path} and everything in it` : path;
  if (!window.confirm(`Delete ${what}?`)) return;
  const url = folderToo ? `${filesUrl(path)}/` : filesUrl(path);
  const reply = await ensims('DELETE', url);
  if (reply.status === 401) {
    sessionEnded();
    return;
  }
  const ok = reply.body && reply.body.ok;
  say($('files-msg'), ok ? reply.body.status : problem(reply), ok ? 'ok' : 'error');
  await loadFiles();
  $('files-caption').focus();
}

function onUpload(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const input = $('upload-input');
  if (input.files.length === 0) {
    say($('files-msg'), 'Choose one or more files first.', 'error');
    input.focus();
    return;
  }
  const data = new FormData();
  for (const file of input.files) data.append('file', file, file.name);
  const progress = $('upload-progress');
  progress.value = 0;
  $('upload-progress-wrap').hidden = false;
  const button = form.querySelector('button');
  button.disabled = true;
  // XMLHttpRequest, not fetch: only it reports upload progress.
  const request = new XMLHttpRequest();
  request.open('POST', filesUrl(folder));
  request.setRequestHeader('Accept', 'application/json');
  request.upload.addEventListener('progress', (e) => {
    if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100);
  });
  request.addEventListener('loadend', async () => {
    button.disabled = false;
    let body = null;
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = null;
    }
    const reply = { status: request.status, body };
    if (reply.status === 401) {
      sessionEnded();
      return;
    }
    const ok = body && body.ok;
    if (ok) {
      progress.value = 100;
      form.reset();
    }
    say($('files-msg'), ok ? body.status : problem(reply), ok ? 'ok' : 'error');
    await loadFiles();
  });
  request.send(data);
}
