/**
 * Pure helpers of the BtM PPA add-on (no Apps Script services), run in Apps Script and,
 * for tests, under node (tests/apps_script).
 */

/** Rows the backend owns: never let an edit there mark results stale. */
var BTM_RESULT_FIRST_ROW = 40;
var BTM_INPUT_TAB = 'BESS';
/** A RUNNING status older than this is a refresh that will not finish: refresh again. */
var BTM_RUNNING_EXPIRES_MS = 15 * 60 * 1000;

/**
 * The refresh function's URL: the constant deploy.sh writes (Config.js), else the add-on
 * project's script property REFRESH_URL.
 * @param {string} constant
 * @param {string | null} property
 * @return {string}
 */
function btmBackendUrl(constant, property) {
  var url = constant || property;
  if (!url) {
    throw new Error('The add-on has no backend URL: run deploy/deploy.sh (it writes ' +
                    'Config.js), or set the script property REFRESH_URL of the add-on project.');
  }
  if (!/^https:\/\//.test(url)) {
    throw new Error('The backend URL must start with https://, not ' + url);
  }
  return url;
}

/**
 * The request body of a refresh (queued: the backend writes when done), or with
 * validateOnly a check of the inputs.
 * @param {string} spreadsheetId
 * @param {string | undefined} sheetName
 * @param {boolean=} validateOnly
 * @param {string=} trigger
 * @return {string}
 */
function btmRefreshPayload(spreadsheetId, sheetName, validateOnly, trigger) {
  /** @type {Object<string, string | boolean>} */
  var body = {spreadsheet_id: spreadsheetId, sheet: sheetName || BTM_INPUT_TAB};
  if (validateOnly) {
    body.validate_only = true;
  } else {
    body.defer = true;
    body.trigger = trigger || 'menu';
  }
  return JSON.stringify(body);
}

/**
 * A short message for a toast from a function's HTTP status and JSON body.
 * 200: the status row text; 202: queued; 4xx/5xx: the error message, never raw HTML.
 * @param {number} status
 * @param {string} bodyText
 * @return {string}
 */
function btmResultMessage(status, bodyText) {
  var body = null;
  try {
    body = JSON.parse(bodyText);
  } catch (e) {
    body = null;
  }
  if (status === 202 && body && body.ok) {
    return 'Refresh queued: rows 50-62 are rewritten when it has run (about a minute; with ' +
        'a Deal tab\'s sizing grid a few minutes, Deal!B53 counting the sizes valued).';
  }
  if (status === 200 && body && body.ok && /^VALID/.test(body.status || '')) {
    return body.status;
  }
  if (status === 200 && body && body.ok) {
    return 'Refreshed: ' + body.status + (body.warnings && body.warnings.length ?
      ' (' + body.warnings.length + ' warning' + (body.warnings.length > 1 ? 's' : '') + ')' : '');
  }
  if (body && body.error && body.error.message) {
    var cell = body.error.cell ? ' [' + body.error.cell + ']' : '';
    return 'Not refreshed' + cell + ': ' + body.error.message;
  }
  if (body && body.status) {
    return 'Not refreshed: ' + body.status;
  }
  return 'Not refreshed: the backend answered HTTP ' + status;
}

/**
 * Is an edit at (sheet, row, column) an input edit that makes the results stale?
 * @param {string} sheetName
 * @param {number} row
 * @param {number} column
 * @return {boolean}
 */
function btmIsInputEdit(sheetName, row, column) {
  if (sheetName === 'HH Data') {
    return true;
  }
  if (sheetName !== BTM_INPUT_TAB) {
    return false;
  }
  var backendRows = (row >= BTM_RESULT_FIRST_ROW && row <= 42) || row >= 46;
  return !backendRows || (row === 45 && column === 2);
}

/**
 * Row 62 text while results are stale.
 * @param {string} when
 * @param {string} who
 * @return {string}
 */
function btmStaleText(when, who) {
  return 'STALE: input changed at ' + when + ' by ' + (who || 'someone') +
         '; a refresh follows';
}

/**
 * Row 62 text while a refresh runs: says when it started, so a refresh that never ends
 * (a timeout, a dropped task) is recognised later and never shown as running forever.
 * @param {Date} started
 * @return {string}
 */
function btmRunningText(started) {
  return 'RUNNING: refresh started at ' + started.toISOString().replace('T', ' ').slice(0, 19) +
         ' UTC; if this is still here 15 minutes later, refresh again';
}

/**
 * Is this row 62 text a RUNNING status older than BTM_RUNNING_EXPIRES_MS at nowMs?
 * @param {*} text
 * @param {number} nowMs
 * @return {boolean}
 */
function btmIsExpiredRunning(text, nowMs) {
  var match = /^RUNNING: refresh started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/.exec(String(text));
  if (!match) {
    return false;
  }
  return nowMs - Date.parse(match[1].replace(' ', 'T') + 'Z') > BTM_RUNNING_EXPIRES_MS;
}

/**
 * Row 62 text when the add-on could not get the refresh going.
 * @param {string} message
 * @return {string}
 */
function btmNotRefreshedText(message) {
  return 'ERROR: ' + message.replace(/^Not refreshed(\s\[[A-Z]+\d+\])?: /, '');
}
