// The account page: log on, edit one's details (partial update with If-Match), change the
// password, link a JESS credential, manage one's files, reset a forgotten password.
import {
  ensims, logOff, logOn, passwordRules, problem, resetAvailable,
} from './api.js';
import { $, busy, say, showOnly, showRules } from './ui.js';
import { initFiles, loadFiles } from './files.js';

/** The string fields of the ENSIMS account object the form edits (`email` included). */
const TEXT_FIELDS = [
  'title', 'firstname', 'middlename', 'surname', 'nickname', 'position', 'company', 'email',
  'tel', 'address', 'postcode', 'country', 'website', 'twitter', 'linkedin',
];

/** What the server last said: the account object and its ETag (for If-Match). */
let loaded = { data: null, etag: null };

const sections = () => [$('logon-section'), $('reset-section'), $('account-section')];

function showLogOn(message, kind = 'info') {
  $('logoff').hidden = true;
  $('who').textContent = '';
  showOnly(sections(), $('logon-section'), false);
  if (message) say($('page-msg'), message, kind);
  $('logon-email').focus();
}

/** Reads the account; false when there is no session. */
async function loadAccount() {
  const reply = await ensims('GET', '/users/api/user');
  if (reply.status === 401) return false;
  if (reply.status !== 200 || !reply.body || !reply.body.data) {
    say($('page-msg'), problem(reply), 'error');
    return true;
  }
  loaded = { data: reply.body.data, etag: reply.headers.get('etag') };
  fillForm(loaded.data);
  $('conflict').hidden = true;
  return true;
}

function fillForm(data) {
  for (const name of TEXT_FIELDS) $(`f-${name}`).value = data[name] ?? '';
  $('f-use_jess').checked = data.use_jess === true;
  $('f-jess_user').value = data.jess_user ?? '';
  $('f-jess_pwd').value = data.jess_pwd ?? '';
  $('jess-state').textContent = data.jess_user
    ? `Linked to JESS user ${data.jess_user}.`
    : 'No JESS credential is linked.';
  $('who').textContent = data.email;
}

/** Only what differs from what was loaded; an emptied field is sent as "" (clear). */
function changes() {
  const patch = {};
  for (const name of TEXT_FIELDS) {
    const now = $(`f-${name}`).value.trim();
    if (now !== (loaded.data[name] ?? '')) patch[name] = now;
  }
  const useJess = $('f-use_jess').checked;
  if (useJess !== (loaded.data.use_jess === true)) patch.use_jess = useJess;
  return patch;
}

async function showAccount() {
  showOnly(sections(), $('account-section'), false);
  $('logoff').hidden = false;
  await loadFiles();
}

async function onLogOn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = $('logon-email').value.trim();
  const password = $('logon-password').value;
  if (!email || !password) {
    say($('logon-msg'), 'Enter your email and password.', 'error');
    return;
  }
  await busy(form, async () => {
    const reply = await logOn(email, password);
    if (!(reply.body && reply.body.ok)) {
      say($('logon-msg'), problem(reply), 'error');
      $('logon-password').select();
      return;
    }
    form.reset();
    say($('logon-msg'), '');
    say($('page-msg'), reply.body.status, 'ok');
    if (await loadAccount()) await showAccount();
    $('details-h').setAttribute('tabindex', '-1');
    $('details-h').focus();
  });
}

async function onSave(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const patch = changes();
  if (Object.keys(patch).length === 0) {
    say($('details-msg'), 'Nothing has changed.', 'info');
    return;
  }
  if (patch.email === '') {
    say($('details-msg'), 'Your email cannot be empty: it is how you log on.', 'error');
    $('f-email').focus();
    return;
  }
  await busy(form, async () => {
    const headers = loaded.etag ? { 'If-Match': loaded.etag } : {};
    const reply = await ensims('POST', '/users/api/user', patch, headers);
    if (reply.status === 412) {
      $('conflict').hidden = false;
      say($('details-msg'), problem(reply), 'error');
      $('conflict-reload').focus();
      return;
    }
    if (reply.status === 401) {
      showLogOn('Your session has ended: log on again.', 'error');
      return;
    }
    if (!(reply.body && reply.body.ok)) {
      say($('details-msg'), problem(reply), 'error');
      return;
    }
    await loadAccount();
    say($('details-msg'), reply.body.status, 'ok');
  });
}

async function onReload() {
  if (!(await loadAccount())) {
    showLogOn('Your session has ended: log on again.', 'error');
    return;
  }
  say($('details-msg'), 'Your details were reloaded.', 'info');
  $('f-title').focus();
}

async function onPassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const password = $('pw-current').value;
  const newPassword = $('pw-new').value;
  if (!password || !newPassword) {
    say($('password-msg'), 'Enter your current and your new password.', 'error');
    return;
  }
  await busy(form, async () => {
    const reply = await ensims('POST', '/users/api/password', { password, newPassword });
    const ok = reply.body && reply.body.ok;
    say($('password-msg'), ok ? reply.body.status : problem(reply), ok ? 'ok' : 'error');
    if (ok) form.reset();
  });
}

async function onJess(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const jessUser = $('jess-user').value.trim();
  const jessPwd = $('jess-pwd').value;
  await busy(form, async () => {
    const reply = await ensims('POST', '/jess_web/api/session', { jessUser, jessPwd });
    const ok = reply.body && reply.body.ok;
    say($('jess-msg'), ok ? reply.body.status : problem(reply), ok ? 'ok' : 'error');
    if (ok) {
      form.reset();
      await loadAccount();
    }
  });
}

async function onLogOff() {
  const reply = await logOff();
  loaded = { data: null, etag: null };
  $('details-form').reset();
  const ok = reply.body && reply.body.ok;
  // Logged off either way: a 401 means the session had already ended.
  showLogOn(ok ? reply.body.status : 'You are logged off.', 'ok');
}

async function onForgot(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = $('forgot-email').value.trim();
  if (!email) {
    say($('forgot-msg'), 'Enter the email of your account.', 'error');
    return;
  }
  await busy(form, async () => {
    const reply = await ensims('POST', '/users/api/reset', { email });
    const ok = reply.body && reply.body.ok;
    say($('forgot-msg'), ok ? reply.body.status : problem(reply), ok ? 'ok' : 'error');
  });
}

async function onReset(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const token = new URLSearchParams(window.location.search).get('token') || '';
  const newPassword = $('reset-new').value;
  if (!newPassword) {
    say($('reset-msg'), 'Enter a new password.', 'error');
    return;
  }
  await busy(form, async () => {
    const reply = await ensims('POST', '/users/api/reset/confirm', { token, newPassword });
    if (!(reply.body && reply.body.ok)) {
      say($('reset-msg'), problem(reply), 'error');
      return;
    }
    form.reset();
    window.history.replaceState(null, '', '/account');
    showLogOn(`${reply.body.status} You can log on with it now.`, 'ok');
  });
}

async function start() {
  $('logon-form').addEventListener('submit', onLogOn);
  $('details-form').addEventListener('submit', onSave);
  $('details-reload').addEventListener('click', onReload);
  $('conflict-reload').addEventListener('click', onReload);
  $('password-form').addEventListener('submit', onPassword);
  $('jess-form').addEventListener('submit', onJess);
  $('logoff').addEventListener('click', onLogOff);
  $('forgot-form').addEventListener('submit', onForgot);
  $('reset-form').addEventListener('submit', onReset);
  initFiles({ onSessionEnded: () => showLogOn('Your session has ended: log on again.', 'error') });

  const [mail, rules] = await Promise.all([resetAvailable(), passwordRules()]);
  showRules($('pw-rule-list'), rules);
  showRules($('reset-rule-list'), rules);
  $('forgot').hidden = !mail;
  if (window.location.pathname === '/account/reset') {
    if (mail) {
      showOnly(sections(), $('reset-section'), false);
      $('reset-new').focus();
    } else {
      showLogOn('Password reset is not available.', 'error');
    }
  } else if (await loadAccount()) {
    await showAccount();
  } else {
    showLogOn();
  }
  document.body.dataset.ready = 'true';
}

start();
