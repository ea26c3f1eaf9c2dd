// The add-on's menu, trigger and lock flows against the fake Apps Script services.
// Run: node --test tests/apps_script/ (make test runs it through tests/test_apps_script.py)
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const {Env, loadAddon} = require('./gas_fake.js');

const FILES = ['Config.js', 'Helpers.js', 'Code.js'];  // clasp's filePushOrder
const URL = 'https://europe-west2-acme.cloudfunctions.net/refresh';

function setup(backend) {
  const env = new Env();
  env.scriptProperties.REFRESH_URL = URL;
  if (backend) env.backend = backend;
  return {env, addon: loadAddon(env, FILES), b62: () => env.book.sheets.BESS.cells.B62};
}

const queued = () => ({status: 202, body: JSON.stringify({ok: true, queued: true, status: 'QUEUED: ...'})});

test('onInstall builds the add-on menu, and under AuthMode.NONE touches nothing else', () => {
  const {env, addon} = setup();
  env.authMode = 'NONE';
  env.book.sheets.BESS.cells.B62 = 'RUNNING: refresh started at 2020-01-01 00:00:00 UTC; ...';
  addon.call('onInstall', {authMode: 'NONE'});  // the fake throws on any other service
  assert.strictEqual(env.menus.length, 1);
  assert.ok(env.menus[0].addon);
  assert.deepStrictEqual(env.menus[0].items.map((i) => i[1]).filter(Boolean),
                         ['btmRefreshFromMenu', 'btmValidateFromMenu', undefined,
                          'btmInstallEditTrigger', 'btmAbout'].filter(Boolean));
  assert.match(env.book.sheets.BESS.cells.B62, /^RUNNING/);  // left for an authorised open
});

test('opening a file clears a RUNNING that can no longer finish, and keeps a recent one', () => {
  const {env, addon, b62} = setup();
  env.authMode = 'LIMITED';
  env.book.sheets.BESS.cells.B62 = 'RUNNING: refresh started at 2026-06-01 08:00:00 UTC; x';
  addon.call('onOpen', {authMode: 'LIMITED'});
  assert.match(b62(), /^ERROR: the last refresh did not finish/);
  env.book.sheets.BESS.cells.B62 = 'RUNNING: refresh started at 2026-06-01 08:55:00 UTC; x';
  addon.call('onOpen', {authMode: 'LIMITED'});
  assert.match(b62(), /^RUNNING/);
});

test('a menu refresh is queued with both of the user\'s tokens and answers at once', () => {
  const {env, addon, b62} = setup(queued);
  addon.call('btmRefreshFromMenu');
  const [request] = env.fetches;
  assert.strictEqual(request.url, URL);
  assert.deepStrictEqual(request.body, {spreadsheet_id: env.book.id, sheet: 'BESS', defer: true,
                                        trigger: 'menu'});
  assert.strictEqual(request.headers.Authorization, 'Bearer id-token-of-alice@example.com');
  assert.strictEqual(request.headers['X-User-Access-Token'], 'oauth-token-of-alice@example.com');
  assert.match(b62(), /^RUNNING: refresh started at 2026-06-01 09:00:00 UTC/);  // until the backend writes
  assert.match(env.book.toasts.at(-1), /queued/);
  assert.strictEqual(env.book.lockHolder, null);
  assert.ok(env.book.sheets.Dispatch, 'the Dispatch tab is made for the backend to fill');
});

test('a backend slower than UrlFetchApp\'s 60 s never leaves RUNNING in B62', () => {
  const {env, addon, b62} = setup(() => ({status: 200, body: '{}', delayMs: 75000}));
  addon.call('btmRefreshFromMenu');
  assert.match(b62(), /^ERROR: the backend did not answer \(Exception: Timeout/);
  assert.strictEqual(env.book.lockHolder, null);
});

test('a refused refresh says why in B62; an error the backend wrote itself is kept', () => {
  const refused = {status: 403, body: JSON.stringify({ok: false, error: {kind: 'auth',
    message: 'alice@example.com may view but not edit spreadsheet x'}})};
  let {addon, b62} = setup(() => refused);
  addon.call('btmRefreshFromMenu');
  assert.strictEqual(b62(), 'ERROR: alice@example.com may view but not edit spreadsheet x');
  const written = {status: 422, body: JSON.stringify({ok: false, status: 'ERROR: B45 ...',
    status_written: true, error: {message: 'B45 is text', cell: 'B45'}})};
  ({addon, b62} = setup(() => written));
  addon.call('btmRefreshFromMenu');
  assert.match(b62(), /^RUNNING/);  // the backend's own row 62 write is the one to keep
});

test('a second click while another execution holds the lock starts nothing', () => {
  const {env, addon} = setup(queued);
  env.book.lockHolder = 'another execution';
  addon.call('btmRefreshFromMenu');
  assert.strictEqual(env.fetches.length, 0);
  assert.match(env.book.toasts.at(-1), /being queued already/);
});

test('an input edit marks STALE and queues a refresh; during another it waits, STALE stays', () => {
  const {env, addon, b62} = setup(queued);
  const edit = {range: env.book.sheets.BESS.getRange('B45'), user: {getEmail: () => 'bob@example.com'}};
  addon.call('btmOnEdit', edit);
  assert.deepStrictEqual(env.fetches.map((f) => f.body.trigger), ['edit']);
  assert.ok(env.book.log.some((l) => /^STALE: input changed at .* by bob@example.com/.test(l[3])));
  env.book.lockHolder = 'a running refresh';
  const before = env.clock.now();
  addon.call('btmOnEdit', edit);
  assert.strictEqual(env.clock.now() - before, 20000);  // waited for the lock
  assert.strictEqual(env.fetches.length, 1);
  assert.match(b62(), /^STALE/);  // not lost: the queued refresh re-reads before writing
  addon.call('btmOnEdit', {range: env.book.sheets.BESS.getRange('D59'), user: edit.user});
  assert.strictEqual(env.fetches.length, 1);  // a result cell is no input
});

test('the edit trigger is installed once per user and file', () => {
  const {env, addon} = setup();
  env.triggers.push({user: 'bob@example.com', doc: env.book.id, fn: 'btmOnEdit',
                     getHandlerFunction: () => 'btmOnEdit'});
  addon.call('btmInstallEditTrigger');
  addon.call('btmInstallEditTrigger');
  assert.deepStrictEqual(env.triggers.map((t) => t.user).sort(),
                         ['alice@example.com', 'bob@example.com']);
});

test('validate asks synchronously and shows the answer', () => {
  const {env, addon} = setup(() => ({status: 200, body: '{"ok": true, "status": "VALID: 22 input cells"}'}));
  addon.call('btmValidateFromMenu');
  assert.strictEqual(env.fetches[0].body.validate_only, true);
  assert.strictEqual(env.fetches[0].body.defer, undefined);
  assert.deepStrictEqual(env.alerts, [['BtM PPA: validate inputs', 'VALID: 22 input cells']]);
});

test('the backend URL comes from Config.js, else the add-on\'s script property', () => {
  const {env, addon} = setup(queued);
  delete env.scriptProperties.REFRESH_URL;
  addon.call('btmRefreshFromMenu');
  assert.match(env.book.sheets.BESS.cells.B62, /has no backend URL/);
  addon.context.BTM_BACKEND_URL = 'https://europe-west2-other.cloudfunctions.net/refresh';
  addon.call('btmRefreshFromMenu');
  assert.strictEqual(env.fetches.at(-1).url, 'https://europe-west2-other.cloudfunctions.net/refresh');
});
