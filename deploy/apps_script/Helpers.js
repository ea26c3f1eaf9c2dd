/**
 * Pure helpers of the BtM PPA add-on (no Apps Script services), so they run under node
 * for tests as well as in Apps Script. Loaded first (filePushOrder in .clasp.json).
 */

/** Rows the backend owns: never let an edit there mark results stale. */
var BTM_RESULT_FIRST_ROW = 40;
var BTM_INPUT_TAB = 'BESS';

/** Function URLs come from script properties: REFRESH_URL, plus the base of the others. */
function btmFunctionUrl(properties, name) {
  var url = properties[name + '_URL'];
  if (!url) {
    throw new Error('Script property ' + name + '_URL is not set: run deploy/deploy.sh and ' +
                    'paste the function URL it prints into Extensions > Apps Script > ' +
                    'Project settings > Script properties.');
  }
  return url;
}

/** The request body of a refresh (or, with validateOnly, a check) of the BESS tab. */
function btmRefreshPayload(spreadsheetId, sheetName, validateOnly) {
  var body = {spreadsheet_id: spreadsheetId, sheet: sheetName || BTM_INPUT_TAB};
  if (validateOnly) {
    body.validate_only = true;
  }
  return JSON.stringify(body);
}

/**
 * A short message for a toast from a function's HTTP status and JSON body.
 * 200: the status row text; 4xx/5xx: the error message, never raw HTML or a trace.
 */
function btmResultMessage(status, bodyText) {
  var body = null;
  try {
    body = JSON.parse(bodyText);
  } catch (e) {
    body = null;
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

/** Is an edit at (sheet, row, column) an input edit that makes the results stale? */
function btmIsInputEdit(sheetName, row, column) {
  if (sheetName === 'HH Data') {
    return true;
  }
  if (sheetName !== BTM_INPUT_TAB) {
    return false;
  }
  var backendRows = (row >= 40 && row <= 42) || row >= 46;
  return !backendRows || (row === 45 && column === 2);
}

/** Row 62 text while results are stale or a refresh is running. */
function btmStaleText(when, who) {
  return 'STALE: input changed at ' + when + ' by ' + (who || 'someone') +
         '; a refresh follows';
}

function btmRunningText(when) {
  return 'RUNNING: refresh started at ' + when;
}

if (typeof module !== 'undefined') {
  module.exports = {btmFunctionUrl: btmFunctionUrl, btmRefreshPayload: btmRefreshPayload,
                    btmResultMessage: btmResultMessage, btmIsInputEdit: btmIsInputEdit,
                    btmStaleText: btmStaleText, btmRunningText: btmRunningText};
}
