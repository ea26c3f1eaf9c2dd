// The add-on's pure helpers. Run: node --test tests/apps_script/
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const {Env, loadAddon} = require('./gas_fake.js');

const h = loadAddon(new Env(), ['Helpers.js']).context;

test('refresh payload names the spreadsheet and tab and asks for a queued run', () => {
  assert.deepStrictEqual(JSON.parse(h.btmRefreshPayload('abc', undefined)),
                         {spreadsheet_id: 'abc', sheet: 'BESS', defer: true, trigger: 'menu'});
  assert.strictEqual(JSON.parse(h.btmRefreshPayload('abc', 'BESS', false, 'edit')).trigger, 'edit');
});

test('validate asks the backend to check without computing', () => {
  const body = JSON.parse(h.btmRefreshPayload('abc', 'BESS', true));
  assert.strictEqual(body.validate_only, true);
  assert.strictEqual(body.defer, undefined);
  assert.strictEqual(h.btmResultMessage(200, '{"ok": true, "status": "VALID: 22 input cells"}'),
                     'VALID: 22 input cells');
});

test('the backend URL must be set and https', () => {
  assert.throws(() => h.btmBackendUrl('', null), /no backend URL/);
  assert.throws(() => h.btmBackendUrl('http://x', null), /https/);
  assert.strictEqual(h.btmBackendUrl('', 'https://x'), 'https://x');
  assert.strictEqual(h.btmBackendUrl('https://a', 'https://b'), 'https://a');
});

test('result messages come from the JSON, never raw bodies', () => {
  assert.strictEqual(h.btmResultMessage(200, '{"ok": true, "status": "OK", "warnings": []}'),
                     'Refreshed: OK');
  assert.match(h.btmResultMessage(202, '{"ok": true, "queued": true}'), /^Refresh queued/);
  assert.strictEqual(
    h.btmResultMessage(422, '{"ok": false, "status": "ERROR: B45 ...", "error": ' +
                       '{"kind": "input", "message": "B45 is text", "cell": "B45"}}'),
    'Not refreshed [B45]: B45 is text');
  assert.strictEqual(h.btmResultMessage(502, '<html>Bad gateway</html>'),
                     'Not refreshed: the backend answered HTTP 502');
  assert.match(h.btmResultMessage(200, '{"ok": true, "status": "OK", "warnings": ["a", "b"]}'),
               /2 warnings/);
  assert.strictEqual(h.btmNotRefreshedText('Not refreshed [B45]: B45 is text'), 'ERROR: B45 is text');
});

test('only input edits make results stale', () => {
  assert.strictEqual(h.btmIsInputEdit('BESS', 45, 2), true);   // PPA price
  assert.strictEqual(h.btmIsInputEdit('BESS', 10, 3), true);   // Amber DUoS
  assert.strictEqual(h.btmIsInputEdit('BESS', 59, 4), false);  // a result
  assert.strictEqual(h.btmIsInputEdit('BESS', 41, 2), false);  // system buy volume
  assert.strictEqual(h.btmIsInputEdit('HH Data', 100, 3), true);
  assert.strictEqual(h.btmIsInputEdit('Dispatch', 2, 2), false);
});

test('status texts say who and when; RUNNING expires after 15 minutes', () => {
  assert.strictEqual(h.btmStaleText('2026-01-01 09:00:00 UTC', 'a@b.com'),
                     'STALE: input changed at 2026-01-01 09:00:00 UTC by a@b.com; a refresh follows');
  const running = h.btmRunningText(new Date(Date.parse('2026-01-01T09:00:00Z')));
  assert.match(running, /^RUNNING: refresh started at 2026-01-01 09:00:00 UTC/);
  const started = Date.parse('2026-01-01T09:00:00Z');
  assert.strictEqual(h.btmIsExpiredRunning(running, started + 14 * 60000), false);
  assert.strictEqual(h.btmIsExpiredRunning(running, started + 16 * 60000), true);
  assert.strictEqual(h.btmIsExpiredRunning('OK', started + 99 * 60000), false);
});
