// End-to-end tests of Roster's web pages in the system's headless Chromium (no browser
// download), run by tests/api/browser.rs against a server it started. Exits non-zero on the
// first failure. Settings come from the environment (see `need` below).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, request as apiRequest } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

const BASE = need('ROSTER_URL');
const NO_MAIL_BASE = process.env.ROSTER_URL_NO_MAIL || '';
const ADMIN_EMAIL = need('ROSTER_ADMIN_EMAIL');
const ADMIN_PASSWORD = need('ROSTER_ADMIN_PASSWORD');
const USER_EMAIL = need('ROSTER_USER_EMAIL');
const USER_PASSWORD = need('ROSTER_USER_PASSWORD');
const FIXTURES = need('ROSTER_FIXTURES');
const SCREENSHOTS = need('ROSTER_SCREENSHOTS');
const RESET_LINK_FILE = process.env.ROSTER_RESET_LINK_FILE || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NEW_PASSWORD = 'N3w!pass-word';

const problems = [];
let step = '';

/** A page that records console errors, uncaught exceptions and CSP violations. */
async function watchedPage(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // A fetch answered 4xx is logged by Chromium as "Failed to load resource": the pages
    // expect those answers (no session yet, a wrong password, a conflict) and show them.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) return;
    problems.push(`${label} console error during "${step}": ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${label} uncaught exception during "${step}": ${error.message}`));
  await page.exposeBinding('__rosterCspViolation', (_source, text) => {
    problems.push(`${label} CSP violation during "${step}": ${text}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__rosterCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  return page;
}

/** axe-core on the page as it is now: no serious or critical violation. */
async function axe(page, what) {
  // The pages' CSP refuses inline and injected scripts, as it should; the DevTools protocol
  // evaluates axe outside the page's policy, which stays on for everything else.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Runtime.evaluate', { expression: AXE });
  await cdp.detach();
  const results = await page.evaluate(async () => window.axe.run(document, {
    resultTypes: ['violations'],
  }));
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(summary, [], `accessibility violations on ${what}`);
  console.log(`  axe: ${what}: ${results.violations.length} minor or moderate, 0 serious or critical`);
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]');
}

async function messageOf(page, id, expected) {
  const locator = page.locator(`#${id}`);
  await locator.filter({ hasText: expected }).waitFor();
  return locator.textContent();
}

async function run(name, body) {
  step = name;
  const started = Date.now();
  await body();
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

async function logOnWithKeyboard(page, email, password) {
  await page.locator('#logon-email').focus();
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.id);
  assert.equal(focused, 'logon-password', 'Tab goes from email to password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

async function cspDetectorWorks(context) {
  // The CSP watcher must see a violation when one happens, or its silence means nothing.
  const page = await context.newPage();
  const seen = [];
  await page.exposeBinding('__rosterCspViolation', (_s, text) => seen.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.__rosterCspViolation(e.violatedDirective));
  });
  await page.goto(`${BASE}/account`);
  await ready(page);
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = true';
    document.body.append(s);
  });
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.inlineRan === true), false, 'inline script ran');
  assert.ok(seen.some((d) => d.startsWith('script-src')), `no violation seen: ${seen}`);
  await page.close();
}

async function main() {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A fresh profile per launch is Playwright's own (--user-data-dir in a temp dir). The
    // closed network makes Chromium's background services misbehave: they are all off.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  console.log(`node ${process.version}, Chromium ${browser.version()}`);
  const api = await apiRequest.newContext({ baseURL: BASE });
  try {
    const userContext = await browser.newContext({ baseURL: BASE, acceptDownloads: true });
    await run('the CSP refuses an inline script, and the watcher sees it', () => cspDetectorWorks(userContext));
    const page = await watchedPage(userContext, 'account');

    await run('/ sends to the account page, which asks to log on', async () => {
      const reply = await api.get('/', { maxRedirects: 0 });
      assert.equal(reply.status(), 303);
      assert.equal(reply.headers().location, '/account');
      const html = await api.get('/account');
      assert.match(html.headers()['content-security-policy'], /script-src 'self'/);
      assert.doesNotMatch(html.headers()['content-security-policy'], /unsafe-inline/);
      await page.goto('/');
      await ready(page);
      assert.equal(new URL(page.url()).pathname, '/account');
      await page.locator('#logon-form').waitFor();
      assert.equal(await page.locator('#forgot').isVisible(), RESET_LINK_FILE !== '');
      await axe(page, 'account page, log on');
    });

    await run('a wrong password shows the API\'s error', async () => {
      await page.fill('#logon-email', USER_EMAIL);
      await page.fill('#logon-password', 'Wrong!pass1');
      await page.click('#logon-form button[type=submit]');
      await messageOf(page, 'logon-msg', 'No matching username and password pair was found!');
      assert.equal(await page.locator('#account-section').isVisible(), false);
    });

    await run('log on with the keyboard only', async () => {
      await page.fill('#logon-email', '');
      await page.fill('#logon-password', '');
      await logOnWithKeyboard(page, USER_EMAIL, USER_PASSWORD);
      await page.locator('#account-section').waitFor();
      assert.equal(await page.inputValue('#f-email'), USER_EMAIL);
      // The page moves focus to the details once they and the files are loaded.
      await page.waitForFunction(() => document.activeElement.id === 'details-h');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => ({
        id: document.activeElement.id,
        outline: getComputedStyle(document.activeElement).outlineStyle,
      }));
      assert.equal(focused.id, 'f-title', 'the first field follows in tab order');
      assert.notEqual(focused.outline, 'none', 'the focused control shows its focus');
    });

    await run('edit two fields, reload, see them', async () => {
      await page.fill('#f-firstname', 'Alice');
      await page.fill('#f-company', 'Acme Ltd');
      const sent = page.waitForRequest((r) => r.url().endsWith('/users/api/user') && r.method() === 'POST');
      await page.click('#details-form button[type=submit]');
      const body = JSON.parse((await sent).postData());
      assert.deepEqual(body, { firstname: 'Alice', company: 'Acme Ltd' }, 'only the changed fields are sent');
      await messageOf(page, 'details-msg', 'Account details updated successfully!');
      await page.reload();
      await ready(page);
      assert.equal(await page.inputValue('#f-firstname'), 'Alice');
      assert.equal(await page.inputValue('#f-company'), 'Acme Ltd');
    });

    await run('clear a field', async () => {
      await page.fill('#f-company', '');
      await page.click('#details-form button[type=submit]');
      await messageOf(page, 'details-msg', 'Account details updated successfully!');
      await page.reload();
      await ready(page);
      assert.equal(await page.inputValue('#f-company'), '');
      assert.equal(await page.inputValue('#f-firstname'), 'Alice');
      const cookie = (await userContext.cookies()).find((c) => c.name === 'session_token');
      const reply = await api.get('/users/api/user', { headers: { Cookie: `session_token=${cookie.value}` } });
      assert.equal((await reply.json()).data.company, null, 'the API reads the cleared field as null');
    });

    await run('a conflicting change shows 412 and a way to reload', async () => {
      const cookie = (await userContext.cookies()).find((c) => c.name === 'session_token');
      const elsewhere = await api.post('/users/api/user', {
        headers: { Cookie: `session_token=${cookie.value}` },
        data: { position: 'Changed elsewhere' },
      });
      assert.equal(elsewhere.status(), 200);
      await page.fill('#f-nickname', 'Ali');
      await page.click('#details-form button[type=submit]');
      await page.locator('#conflict').waitFor();
      await page.click('#conflict-reload');
      await page.locator('#conflict').waitFor({ state: 'hidden' });
      assert.equal(await page.inputValue('#f-position'), 'Changed elsewhere');
      assert.equal(await page.inputValue('#f-nickname'), '', 'the local edit was discarded');
    });

    await run('change password: policy shown first, a wrong current password is refused', async () => {
      const rules = await page.locator('#pw-rule-list li').allTextContents();
      assert.ok(rules.length >= 2 && /characters/.test(rules[0]), `rules: ${rules}`);
      await page.fill('#pw-current', 'Not!the-one1');
      await page.fill('#pw-new', NEW_PASSWORD);
      await page.click('#password-form button[type=submit]');
      await messageOf(page, 'password-msg', 'Current password is incorrect.');
      await page.fill('#pw-current', USER_PASSWORD);
      await page.fill('#pw-new', 'short');
      await page.click('#password-form button[type=submit]');
      await messageOf(page, 'password-msg', 'Password does not satisfy the password policy');
    });

    await run('link a JESS credential', async () => {
      await page.fill('#jess-user', 'jdoe');
      await page.fill('#jess-pwd', 'jess-secret');
      await page.click('#jess-form button[type=submit]');
      await messageOf(page, 'jess-msg', 'New JESS session key is assigned.');
      assert.equal(await page.inputValue('#f-jess_user'), 'jdoe');
      assert.equal(await page.inputValue('#f-jess_pwd'), 'hidden');
    });

    await run('upload a file and a zip, see them listed, download one, delete one', async () => {
      await page.setInputFiles('#upload-input', [path.join(FIXTURES, 'hello.txt'), path.join(FIXTURES, 'bundle.zip')]);
      await page.click('#upload-form button[type=submit]');
      await messageOf(page, 'files-msg', 'File(s) uploaded successfully');
      assert.equal(await page.locator('#upload-progress').getAttribute('value'), '100');
      await page.getByRole('row', { name: /hello\.txt/ }).waitFor();
      await page.getByRole('button', { name: 'Open folder docs' }).click();
      await page.locator('#files-folder', { hasText: '/docs' }).waitFor();
      await page.getByRole('row', { name: /readme\.txt/ }).waitFor();
      await page.getByRole('row', { name: /notes\.txt/ }).waitFor();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download readme.txt' }).click(),
      ]);
      const expected = fs.readFileSync(path.join(FIXTURES, 'readme.txt'), 'utf8');
      assert.equal(fs.readFileSync(await download.path(), 'utf8'), expected);
      page.once('dialog', (dialog) => dialog.accept());
      await page.getByRole('button', { name: 'Delete notes.txt' }).click();
      await messageOf(page, 'files-msg', 'has been deleted');
      await page.getByRole('row', { name: /notes\.txt/ }).waitFor({ state: 'detached' });
      assert.equal(await page.getByRole('row', { name: /readme\.txt/ }).count(), 1);
      await page.click('#files-up');
      await page.getByRole('row', { name: /hello\.txt/ }).waitFor();
      await axe(page, 'account page, logged on');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'account.png'), fullPage: true });
    });

    await run('readable at phone width', async () => {
      await page.setViewportSize({ width: 375, height: 740 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
      await axe(page, 'account page at phone width');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'account-phone.png') });
      await page.setViewportSize({ width: 1280, height: 720 });
    });

    await run('log off returns to the log-on form and the old cookie no longer works', async () => {
      const cookie = (await userContext.cookies()).find((c) => c.name === 'session_token');
      await page.click('#logoff');
      await page.locator('#logon-form').waitFor();
      await messageOf(page, 'page-msg', 'Logged out successfully!');
      assert.equal(await page.locator('#account-section').isVisible(), false);
      const reply = await api.get('/users/api/user', { headers: { Cookie: `session_token=${cookie.value}` } });
      assert.equal(reply.status(), 401);
      await page.reload();
      await ready(page);
      await page.locator('#logon-form').waitFor();
    });

    const adminContext = await browser.newContext({ baseURL: BASE });
    const admin = await watchedPage(adminContext, 'admin');
    await run('the admin console asks an administrator to log on', async () => {
      await admin.goto('/admin');
      await ready(admin);
      await admin.locator('#logon-form').waitFor();
      await axe(admin, 'admin console, log on');
      await admin.fill('#logon-email', ADMIN_EMAIL);
      await admin.fill('#logon-password', ADMIN_PASSWORD);
      await admin.click('#logon-form button[type=submit]');
      await admin.locator('#console-section').waitFor();
      await admin.getByRole('row', { name: /admin/ }).first().waitFor();
      assert.equal(await admin.getByRole('button', { name: 'Delete admin' }).count(), 0,
        'the default administrator has no delete button');
    });

    await run('as admin, create a user, who then logs on in a second browser context', async () => {
      await admin.fill('#new-username', 'carol');
      await admin.fill('#new-email', 'carol@example.org');
      await admin.fill('#new-firstname', 'Carol');
      await admin.fill('#new-lastname', 'Jones');
      await admin.fill('#new-password', 'C4rol!pass');
      await admin.click('#create-form button[type=submit]');
      await messageOf(admin, 'create-msg', '1 created, 0 failed.');
      await admin.getByRole('row', { name: /carol@example\.org/ }).waitFor();

      await admin.fill('#batch-text', 'dave,dave@example.org,Dave,Smith,D4ve!pass\nerin,erin@example.org,Erin,Brown,Er1n!pass,normal,ja-jp\nerin,x@example.org,Erin,Again,Er1n!pass');
      await admin.click('#batch-form button[type=submit]');
      await messageOf(admin, 'create-msg', '2 created, 1 failed.');
      await admin.locator('#create-results', { hasText: 'User name that is specified in the parameter {username} already exists.' }).waitFor();
      await admin.getByRole('row', { name: /erin@example\.org/ }).waitFor();

      const carolContext = await browser.newContext({ baseURL: BASE });
      const carol = await watchedPage(carolContext, 'carol');
      await carol.goto('/account');
      await ready(carol);
      await carol.fill('#logon-email', 'carol@example.org');
      await carol.fill('#logon-password', 'C4rol!pass');
      await carol.click('#logon-form button[type=submit]');
      await carol.locator('#account-section').waitFor();
      assert.equal(await carol.inputValue('#f-firstname'), 'Carol');
      await carol.fill('#f-nickname', 'CJ');
      await carol.click('#details-form button[type=submit]');
      await messageOf(carol, 'details-msg', 'Account details updated successfully!');
      await carol.goto('/admin');
      await ready(carol);
      await carol.locator('#denied-section').waitFor();
      const asUser = await carolContext.request.get('/userapi.do?action=getAudit', {
        headers: { 'X-Requested-With': 'test' },
      });
      assert.equal(asUser.status(), 401);
      assert.equal((await asUser.json()).code, 'C7040001');
      await carolContext.close();
    });

    await run('the admin sees the audit trail of a change just made', async () => {
      await admin.getByRole('button', { name: 'Audit trail of carol' }).click();
      await admin.locator('#audit-section').waitFor();
      await admin.locator('#audit-body', { hasText: 'nickname: (none) → CJ' }).waitFor();
      await axe(admin, 'admin console, audit trail');
    });

    await run('update email and locale, set a password', async () => {
      await admin.getByRole('button', { name: 'Edit carol' }).click();
      await admin.fill('#edit-email', 'carol.jones@example.org');
      await admin.fill('#edit-locale', 'ja-jp');
      await admin.click('#edit-form button[type=submit]');
      await messageOf(admin, 'edit-msg', 'Saved: carol.');
      await admin.getByRole('row', { name: /carol\.jones@example\.org.*ja-jp/ }).waitFor();
      await admin.fill('#edit-email', 'not an email');
      await admin.click('#edit-form button[type=submit]');
      await messageOf(admin, 'edit-msg', 'Invalid value specified for parameter {email}.');
      await admin.fill('#setpw-new', 'An0ther!pass');
      await admin.click('#setpw-form button[type=submit]');
      await messageOf(admin, 'setpw-msg', 'The password of carol was changed.');
      const logOn = await api.post('/users/api/auth', {
        data: { email: 'carol.jones@example.org', password: 'An0ther!pass' },
      });
      assert.equal((await logOn.json()).ok, true, 'carol logs on with the new email and password');
      await axe(admin, 'admin console, editing');
      await admin.screenshot({ path: path.join(SCREENSHOTS, 'admin.png'), fullPage: true });
      await admin.setViewportSize({ width: 375, height: 740 });
      const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = await admin.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className}`));
      assert.ok(overflow <= 0, `the console is ${overflow}px wider than the phone: ${wide}`);
      await axe(admin, 'admin console at phone width');
      await admin.setViewportSize({ width: 1280, height: 720 });
    });

    await run('find a user, and delete one with confirmation', async () => {
      await admin.fill('#search-name', 'DAVE');
      await admin.click('#search-form button[type=submit]');
      await admin.locator('#page-info', { hasText: '1 found' }).waitFor();
      assert.equal(await admin.locator('#users-body tr').count(), 1);
      await admin.click('#search-clear');
      await admin.getByRole('row', { name: /erin@example\.org/ }).waitFor();
      admin.once('dialog', (dialog) => dialog.dismiss());
      await admin.getByRole('button', { name: 'Delete erin' }).click();
      assert.equal(await admin.getByRole('row', { name: /erin@example\.org/ }).count(), 1, 'dismissed: kept');
      admin.once('dialog', (dialog) => dialog.accept());
      await admin.getByRole('button', { name: 'Delete erin' }).click();
      await messageOf(admin, 'users-msg', 'Deleted: erin.');
      await admin.getByRole('row', { name: /erin@example\.org/ }).waitFor({ state: 'detached' });
      const gone = await api.post('/users/api/auth', { data: { email: 'erin@example.org', password: 'Er1n!pass' } });
      assert.equal((await gone.json()).ok, false);
    });

    await run('the admin logs off', async () => {
      await admin.click('#logoff');
      await admin.locator('#logon-form').waitFor();
    });

    if (RESET_LINK_FILE) {
      await run('forgot password: request a mail, follow its link, set a new password', async () => {
        const context = await browser.newContext({ baseURL: BASE });
        const reset = await watchedPage(context, 'reset');
        await reset.goto('/account');
        await ready(reset);
        await reset.fill('#forgot-email', USER_EMAIL);
        await reset.click('#forgot-form button[type=submit]');
        await messageOf(reset, 'forgot-msg', 'If the address is registered, a reset link has been sent.');
        let link = '';
        for (let i = 0; i < 100 && !link; i += 1) {
          if (fs.existsSync(RESET_LINK_FILE)) link = fs.readFileSync(RESET_LINK_FILE, 'utf8').trim();
          else await reset.waitForTimeout(100);
        }
        assert.ok(link.startsWith('/account/reset?token='), `reset link: ${link}`);
        await reset.goto(link);
        await ready(reset);
        await reset.locator('#reset-form').waitFor();
        assert.ok((await reset.locator('#reset-rule-list li').count()) >= 2);
        await axe(reset, 'account page, set a new password');
        await reset.fill('#reset-new', NEW_PASSWORD);
        await reset.click('#reset-form button[type=submit]');
        await messageOf(reset, 'page-msg', 'Password changed successfully!');
        await reset.fill('#logon-email', USER_EMAIL);
        await reset.fill('#logon-password', NEW_PASSWORD);
        await reset.click('#logon-form button[type=submit]');
        await reset.locator('#account-section').waitFor();
        await context.close();
      });
    }

    if (NO_MAIL_BASE) {
      await run('without mail, no "forgot password" and no reset form', async () => {
        const context = await browser.newContext({ baseURL: NO_MAIL_BASE });
        const plain = await watchedPage(context, 'no-mail');
        await plain.goto('/account');
        await ready(plain);
        assert.equal(await plain.locator('#forgot').isVisible(), false);
        await plain.goto('/account/reset?token=abc');
        await ready(plain);
        await messageOf(plain, 'page-msg', 'Password reset is not available.');
        assert.equal(await plain.locator('#reset-section').isVisible(), false);
        await context.close();
      });
    }
  } finally {
    await api.dispose();
    await browser.close();
  }
  assert.deepEqual(problems, [], 'console errors or CSP violations');
  console.log('ok - no console errors, uncaught exceptions or CSP violations');
}

main().catch((error) => {
  console.error(`not ok - ${step}`);
  console.error(error);
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
