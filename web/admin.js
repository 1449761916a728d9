// The admin console: users (list, find, page), create (one or a batch), update email and
// locale, set a password, delete, audit trail. Every call goes to `userapi.do` with the
// administrator's session cookie (see api.js `userapi`).
import {
  ensims, logOff, logOn, passwordRules, problem, userapi,
} from './api.js';
import { $, busy, el, say, showOnly, showRules } from './ui.js';

const PAGE = 20;
/** The default administrator, which the API refuses to delete. */
const DEFAULT_ADMIN = 'admin';

let offset = 0;
let filter = '';
let editing = null;

const sections = () => [$('logon-section'), $('denied-section'), $('console-section')];

/** 'admin', 'anonymous' or 'denied', by asking for one audit record (admins only). */
async function whoAmI() {
  const reply = await userapi('getAudit', { query: { limit: '1' } });
  if (reply.status === 200) return 'admin';
  const code = reply.body && reply.body.code;
  if (code === 'C7040001') return 'denied';
  if (code !== 'C7010001') say($('page-msg'), problem(reply), 'error');
  return 'anonymous';
}

async function enter() {
  const state = await whoAmI();
  $('logoff').hidden = state === 'anonymous';
  if (state === 'anonymous') {
    $('who').textContent = '';
    showOnly(sections(), $('logon-section'), false);
    $('logon-email').focus();
    return;
  }
  const me = await ensims('GET', '/users/api/user');
  $('who').textContent = me.body && me.body.data ? me.body.data.email : '';
  if (state === 'denied') {
    showOnly(sections(), $('denied-section'));
    return;
  }
  showOnly(sections(), $('console-section'), false);
  await listUsers();
}

/** Shows the API's answer, or sends the admin back to log on when the session ended. */
function failed(reply, region) {
  if (reply.status === 401 && reply.body && /010001$/.test(reply.body.code || '')) {
    enter().then(() => say($('page-msg'), 'Your session has ended: log on again.', 'error'));
    return;
  }
  say(region, problem(reply), 'error');
}

async function listUsers() {
  const query = filter ? { username: filter } : { offset: String(offset), limit: String(PAGE) };
  const reply = await userapi('getUsers', { query });
  if (reply.status !== 200) {
    failed(reply, $('users-msg'));
    $('users-body').replaceChildren();
    $('page-info').textContent = '';
    return;
  }
  const { users, count } = reply.body;
  $('users-body').replaceChildren(...users.map(userRow));
  const first = users.length ? offset + 1 : 0;
  $('page-info').textContent = filter
    ? `${users.length} found`
    : `Users ${first}–${offset + users.length} of ${count}`;
  $('page-prev').disabled = filter !== '' || offset === 0;
  $('page-next').disabled = filter !== '' || offset + users.length >= count;
}

function userRow(user) {
  const name = [user.firstname, user.lastname].filter(Boolean).join(' ');
  const actions = el('div', { class: 'row-actions' },
    el('button', {
      type: 'button', class: 'secondary', 'aria-label': `Edit ${user.username}`,
      onclick: () => openEdit(user),
    }, 'Edit'),
    el('button', {
      type: 'button', class: 'secondary', 'aria-label': `Audit trail of ${user.username}`,
      onclick: () => openAudit(user.username),
    }, 'Audit'));
  if (user.username.toLowerCase() === DEFAULT_ADMIN) {
    actions.append(el('span', { class: 'hint', text: '(cannot be deleted)' }));
  } else {
    actions.append(el('button', {
      type: 'button', class: 'danger', 'aria-label': `Delete ${user.username}`,
      onclick: () => deleteUser(user.username),
    }, 'Delete'));
  }
  return el('tr', {},
    el('th', { scope: 'row', text: user.username }),
    el('td', { text: name }),
    el('td', { text: user.email }),
    el('td', { text: user.type }),
    el('td', { text: user.role }),
    el('td', { text: user.locale }),
    el('td', {}, actions));
}

function openEdit(user) {
  editing = user;
  $('edit-h').textContent = `Edit user ${user.username}`;
  $('edit-email').value = user.email;
  $('edit-locale').value = user.locale;
  $('setpw-form').hidden = user.type === 'ad';
  $('setpw-token').hidden = true;
  say($('edit-msg'), '');
  say($('setpw-msg'), '');
  $('audit-section').hidden = true;
  $('edit-section').hidden = false;
  $('edit-h').setAttribute('tabindex', '-1');
  $('edit-h').focus();
}

async function onEdit(event) {
  event.preventDefault();
  const body = { username: editing.username };
  const email = $('edit-email').value.trim();
  const locale = $('edit-locale').value.trim();
  if (email !== editing.email) body.email = email;
  if (locale !== editing.locale) body.locale = locale;
  if (Object.keys(body).length === 1) {
    say($('edit-msg'), 'Nothing has changed.');
    return;
  }
  await busy(event.currentTarget, async () => {
    const reply = await userapi('updateUser', { method: 'POST', json: body });
    if (reply.status !== 200) {
      failed(reply, $('edit-msg'));
      return;
    }
    editing = { ...editing, email, locale };
    say($('edit-msg'), `Saved: ${reply.body.updated}.`, 'ok');
    await listUsers();
  });
}

async function onSetPassword(event) {
  event.preventDefault();
  const password = $('setpw-new').value;
  await busy(event.currentTarget, async () => {
    const json = { username: editing.username, password };
    const reply = await userapi('changePassword', { method: 'POST', json });
    if (reply.status !== 200) {
      failed(reply, $('setpw-msg'));
      return;
    }
    $('setpw-new').value = '';
    const token = Object.values(reply.body.updated || {})[0] || '';
    $('setpw-token').querySelector('pre').textContent = token;
    $('setpw-token').hidden = token === '';
    say($('setpw-msg'), `The password of ${editing.username} was changed.`, 'ok');
  });
}

async function deleteUser(username) {
  if (!window.confirm(`Delete the user ${username}? Their sessions and files go with them.`)) return;
  const reply = await userapi('deleteUser', { method: 'POST', json: { username } });
  if (reply.status !== 200) {
    failed(reply, $('users-msg'));
    return;
  }
  if (editing && editing.username === username) $('edit-section').hidden = true;
  say($('users-msg'), `Deleted: ${reply.body.deleted}.`, 'ok');
  await listUsers();
  $('users-caption').setAttribute('tabindex', '-1');
  $('users-caption').focus();
}

async function openAudit(username) {
  const reply = await userapi('getAudit', { query: { username, limit: '100' } });
  if (reply.status !== 200) {
    failed(reply, $('users-msg'));
    return;
  }
  $('audit-h').textContent = `Audit trail of ${username}`;
  const rows = reply.body.records.map((r) => el('tr', {},
    el('td', {}, el('time', { datetime: r.time, text: r.time })),
    el('td', { text: r.action }),
    el('td', { text: r.actor || '' }),
    el('td', { text: r.dialect || '' }),
    el('td', { text: r.address || '' }),
    el('td', {}, changeList(r.changes || []))));
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 6, text: 'No records.' })));
  $('audit-body').replaceChildren(...rows);
  $('edit-section').hidden = true;
  $('audit-section').hidden = false;
  $('audit-h').setAttribute('tabindex', '-1');
  $('audit-h').focus();
}

function changeList(changes) {
  if (changes.length === 0) return '';
  const text = (v) => (v === null || v === undefined ? '(none)' : String(v));
  return el('ul', {}, changes.map((c) => el('li', {
    text: `${c.field}: ${text(c.old)} → ${text(c.new)}`,
  })));
}

/** The createUser item of the one-user form: only the fields that were filled in. */
function oneUser() {
  const user = {};
  for (const name of ['username', 'email', 'firstname', 'lastname', 'password', 'locale']) {
    const value = $(`new-${name}`).value.trim();
    if (value) user[name] = name === 'password' ? $(`new-${name}`).value : value;
  }
  user.type = $('new-type').value;
  user.role = $('new-role').value;
  return user;
}

/** The batch text as createUser items: a JSON array (or object), else CSV lines. */
function batchUsers(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return JSON.parse(trimmed);
  const keys = ['username', 'email', 'firstname', 'lastname', 'password', 'role', 'locale'];
  return trimmed.split(/\r?\n/).filter((line) => line.trim() !== '').map((line) => {
    const user = {};
    line.split(',').forEach((value, i) => {
      if (i < keys.length && value.trim() !== '') user[keys[i]] = value.trim();
    });
    return user;
  });
}

async function create(form, users) {
  await busy(form, async () => {
    const reply = await userapi('createUser', { method: 'POST', json: users });
    const created = (reply.body && reply.body.created) || {};
    const failures = (reply.body && reply.body.failed) || [];
    if (reply.status !== 200 && failures.length === 0) {
      failed(reply, $('create-msg'));
      return;
    }
    const names = Object.keys(created);
    const items = [
      ...names.map((n) => el('li', { text: `Created ${n}.` })),
      ...failures.map((f) => el('li', { text: `Not created ${f.username || '(no name)'}: ${f.reason} (${f.code})` })),
    ];
    $('create-results').replaceChildren(...items);
    const summary = `${names.length} created, ${failures.length} failed.`;
    say($('create-msg'), failures.length ? `${summary} ${failures[0].reason}` : summary,
      failures.length ? 'error' : 'ok');
    if (names.length) {
      form.reset();
      await listUsers();
    }
  });
}

async function onCreateOne(event) {
  event.preventDefault();
  await create(event.currentTarget, [oneUser()]);
}

async function onCreateBatch(event) {
  event.preventDefault();
  let users;
  try {
    users = batchUsers($('batch-text').value);
  } catch (e) {
    say($('create-msg'), `The batch is not valid JSON: ${e.message}`, 'error');
    return;
  }
  await create(event.currentTarget, users);
}

async function onLogOn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await busy(form, async () => {
    const reply = await logOn($('logon-email').value.trim(), $('logon-password').value);
    if (!(reply.body && reply.body.ok)) {
      say($('logon-msg'), problem(reply), 'error');
      return;
    }
    form.reset();
    say($('logon-msg'), '');
    await enter();
    const heading = $('console-section').hidden ? $('denied-h') : $('users-h');
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  });
}

async function start() {
  $('logon-form').addEventListener('submit', onLogOn);
  $('logoff').addEventListener('click', async () => {
    const reply = await logOff();
    await enter();
    say($('page-msg'), reply.body && reply.body.ok ? reply.body.status : 'You are logged off.', 'ok');
  });
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    filter = $('search-name').value.trim();
    offset = 0;
    say($('users-msg'), '');
    listUsers();
  });
  $('search-clear').addEventListener('click', () => {
    $('search-name').value = '';
    filter = '';
    offset = 0;
    say($('users-msg'), '');
    listUsers();
  });
  $('page-prev').addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE);
    listUsers();
  });
  $('page-next').addEventListener('click', () => {
    offset += PAGE;
    listUsers();
  });
  $('edit-form').addEventListener('submit', onEdit);
  $('edit-close').addEventListener('click', () => {
    $('edit-section').hidden = true;
    $('users-h').focus();
  });
  $('audit-close').addEventListener('click', () => {
    $('audit-section').hidden = true;
    $('users-h').focus();
  });
  $('setpw-form').addEventListener('submit', onSetPassword);
  $('create-form').addEventListener('submit', onCreateOne);
  $('batch-form').addEventListener('submit', onCreateBatch);
  $('users-h').setAttribute('tabindex', '-1');
  const rules = await passwordRules();
  document.querySelectorAll('.rule-list').forEach((list) => showRules(list, rules));
  await enter();
  document.body.dataset.ready = 'true';
}

start();
