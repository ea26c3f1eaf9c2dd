// node --test deploy/apps_script/helpers.test.js
const test = require('node:test');
const assert = require('node:assert');
const h = require('./Helpers.js');

test('refresh payload names the spreadsheet and tab', () => {
  assert.deepStrictEqual(JSON.parse(h.btmRefreshPayload('abc', undefined)),
                         {spreadsheet_id: 'abc', sheet: 'BESS'});
});

test('validate asks the backend to check without computing', () => {
  assert.strictEqual(JSON.parse(h.btmRefreshPayload('abc', 'BESS', true)).validate_only, true);
  assert.strictEqual(h.btmResultMessage(200, '{"ok": true, "status": "VALID: 22 input cells"}'),
                     'VALID: 22 input cells');
});

test('a missing function URL says how to set it', () => {
  assert.throws(() => h.btmFunctionUrl({}, 'REFRESH'), /REFRESH_URL is not set/);
  assert.strictEqual(h.btmFunctionUrl({REFRESH_URL: 'https://x'}, 'REFRESH'), 'https://x');
});

test('result messages come from the JSON, never raw bodies', () => {
  assert.strictEqual(h.btmResultMessage(200, '{"ok": true, "status": "OK", "warnings": []}'),
                     'Refreshed: OK');
  assert.strictEqual(
    h.btmResultMessage(422, '{"ok": false, "status": "ERROR: B45 ...", "error": ' +
                       '{"kind": "input", "message": "B45 is text", "cell": "B45"}}'),
    'Not refreshed [B45]: B45 is text');
  assert.strictEqual(h.btmResultMessage(502, '<html>Bad gateway</html>'),
                     'Not refreshed: the backend answered HTTP 502');
  assert.match(h.btmResultMessage(200, '{"ok": true, "status": "OK", "warnings": ["a", "b"]}'),
               /2 warnings/);
});

test('only input edits make results stale', () => {
  assert.strictEqual(h.btmIsInputEdit('BESS', 45, 2), true);   // PPA price
  assert.strictEqual(h.btmIsInputEdit('BESS', 10, 3), true);   // Amber DUoS
  assert.strictEqual(h.btmIsInputEdit('BESS', 59, 4), false);  // a result
  assert.strictEqual(h.btmIsInputEdit('BESS', 41, 2), false);  // system buy volume
  assert.strictEqual(h.btmIsInputEdit('HH Data', 100, 3), true);
  assert.strictEqual(h.btmIsInputEdit('Dispatch', 2, 2), false);
});

test('status texts say who and when', () => {
  assert.strictEqual(h.btmStaleText('2026-01-01 09:00:00 UTC', 'a@b.com'),
                     'STALE: input changed at 2026-01-01 09:00:00 UTC by a@b.com; a refresh follows');
  assert.match(h.btmRunningText('now'), /^RUNNING: refresh started at now/);
});
