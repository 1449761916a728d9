// The pages' only way to the server: the public APIs, same origin, the session cookie.
// Every answer comes back as {status, ok, body, headers}; the pages show the API's own words.

/** An API answer: the HTTP status, the parsed JSON body (or null) and the headers. */
async function answer(response) {
  let body = null;
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  return { status: response.status, body, headers: response.headers };
}

/** What went wrong, in the API's words: ENSIMS `status`, userapi.do `error`, else HTTP. */
export function problem(reply) {
  const body = reply.body || {};
  if (typeof body.status === 'string' && body.ok === false) return body.status;
  if (typeof body.error === 'string') return `${body.error} (${body.code})`;
  if (reply.status === 0) return 'The server could not be reached.';
  return `The server answered HTTP ${reply.status}.`;
}

/** Calls the ENSIMS Users API (`/users/api/...`, `/jess_web/api/...`). */
export async function ensims(method, path, json, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  try {
    return await answer(await fetch(path, init));
  } catch {
    return { status: 0, body: null, headers: new Headers() };
  }
}

/**
 * Calls `userapi.do` as the admin console: the session cookie plus `X-Requested-With`, which
 * the server requires before it takes a cookie there (a cross-site form cannot send it).
 */
export async function userapi(action, { method = 'GET', query = {}, json } = {}) {
  const params = new URLSearchParams({ action, ...query });
  const headers = { Accept: 'application/json', 'X-Requested-With': 'roster-console' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  try {
    return await answer(await fetch(`/userapi.do?${params}`, init));
  } catch {
    return { status: 0, body: null, headers: new Headers() };
  }
}

/** Logs on with email and password (`POST /users/api/auth`). */
export function logOn(email, password) {
  return ensims('POST', '/users/api/auth', { email, password });
}

/** Logs off (`POST /users/api/logout`): the server ends the session and clears the cookie. */
export function logOff() {
  return ensims('POST', '/users/api/logout', {});
}

/** Whether password reset by mail is available (`GET /users/api/reset`). */
export async function resetAvailable() {
  const reply = await ensims('GET', '/users/api/reset');
  return reply.status === 200 && reply.body && reply.body.ok === true;
}

/** The password rules in force (`GET /users/api/password`): a list of sentences. */
export async function passwordRules() {
  const reply = await ensims('GET', '/users/api/password');
  return reply.body && Array.isArray(reply.body.rules) ? reply.body.rules : [];
}

/** A path of the files API, each segment encoded. */
export function filesUrl(path) {
  const segments = path.split('/').filter((s) => s !== '').map(encodeURIComponent);
  return segments.length ? `/users/api/files/${segments.join('/')}` : '/users/api/files/';
}
