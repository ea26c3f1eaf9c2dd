/**
 * The BtM PPA Editor add-on: an Add-ons > BtM PPA menu with Refresh profits, Validate
 * inputs, Refresh on edit and About. Calls the backend with the user's identity token
 * (audience: the add-on's OAuth client id) and OAuth token (the backend checks, through
 * Drive, that the user may edit the spreadsheet).
 *
 * Refreshes are queued: the backend answers at once (202) and writes rows 50-62 when the
 * refresh has run, so the 60 s UrlFetchApp deadline never cuts one off; the backend reads
 * the inputs again before writing and runs again if they changed meanwhile.
 */

var BTM_STATUS_CELL = 'B62';

/** @param {GoogleAppsScript.Events.AddonOnInstall} e */
function onInstall(e) {
  onOpen(e);
}

/**
 * Builds the add-on menu. Under AuthMode.NONE (the add-on is installed but not yet used
 * in this file) nothing but the menu may be touched.
 * @param {*} e
 */
function onOpen(e) {
  SpreadsheetApp.getUi().createAddonMenu()
    .addItem('Refresh profits', 'btmRefreshFromMenu')
    .addItem('Validate inputs', 'btmValidateFromMenu')
    .addSeparator()
    .addItem('Refresh on edit (this file)', 'btmInstallEditTrigger')
    .addItem('About', 'btmAbout')
    .addToUi();
  if (e && e.authMode !== ScriptApp.AuthMode.NONE) {
    btmClearExpiredRunning_(SpreadsheetApp.getActive());
  }
}

/** @return {string} */
function btmNow_() {
  return Utilities.formatDate(new Date(), 'UTC', 'yyyy-MM-dd HH:mm:ss') + ' UTC';
}

/**
 * POST to the backend with the user's identity and OAuth tokens; returns {status, text}.
 * @param {string} payload
 * @return {{status: number, text: string}}
 */
function btmCall_(payload) {
  var constant = typeof BTM_BACKEND_URL === 'string' ? BTM_BACKEND_URL : '';
  var url = btmBackendUrl(constant, PropertiesService.getScriptProperties().getProperty('REFRESH_URL'));
  var response = UrlFetchApp.fetch(url, {
    method: 'post',
    contentType: 'application/json',
    headers: {Authorization: 'Bearer ' + ScriptApp.getIdentityToken(),
              'X-User-Access-Token': ScriptApp.getOAuthToken()},
    payload: payload,
    muteHttpExceptions: true
  });
  return {status: response.getResponseCode(), text: response.getContentText()};
}

/**
 * A RUNNING status whose refresh can no longer be going on says so.
 * @param {GoogleAppsScript.Spreadsheet.Spreadsheet} spreadsheet
 */
function btmClearExpiredRunning_(spreadsheet) {
  var sheet = spreadsheet.getSheetByName(BTM_INPUT_TAB);
  if (!sheet) {
    return;
  }
  var cell = sheet.getRange(BTM_STATUS_CELL);
  if (btmIsExpiredRunning(cell.getValue(), Date.now())) {
    cell.setValue('ERROR: the last refresh did not finish; refresh again');
  }
}

/**
 * Queue a refresh of this spreadsheet. One at a time: the document lock is held while the
 * request is made (a second click waits a little, then says one is under way).
 * @param {GoogleAppsScript.Spreadsheet.Spreadsheet} spreadsheet
 * @param {string} trigger 'menu' or 'edit'
 * @param {number} waitMs how long to wait for another execution's lock
 */
function btmRefresh_(spreadsheet, trigger, waitMs) {
  var lock = LockService.getDocumentLock();
  if (!lock.tryLock(waitMs)) {
    spreadsheet.toast('A refresh is being queued already; it reads the inputs as they ' +
                      'are when it runs.', 'BtM PPA', 5);
    return;
  }
  var sheet = spreadsheet.getSheetByName(BTM_INPUT_TAB);
  try {
    if (!sheet) {
      spreadsheet.toast('No ' + BTM_INPUT_TAB + ' tab in this spreadsheet.', 'BtM PPA', 10);
      return;
    }
    sheet.getRange(BTM_STATUS_CELL).setValue(btmRunningText(new Date()));
    SpreadsheetApp.flush();
    btmEnsureDispatchTab_(spreadsheet);
    var result = btmCall_(btmRefreshPayload(spreadsheet.getId(), BTM_INPUT_TAB, false, trigger));
    var message = btmResultMessage(result.status, result.text);
    spreadsheet.toast(message, 'BtM PPA', 15);
    if (result.status !== 202 && result.status !== 200) {
      // Not queued (refused, or the backend failed before writing): say so in row 62.
      var body = null;
      try {
        body = JSON.parse(result.text);
      } catch (ignored) {
        body = null;
      }
      if (!(body && body.status_written)) {
        sheet.getRange(BTM_STATUS_CELL).setValue(btmNotRefreshedText(message));
      }
    }
  } catch (err) {
    // UrlFetchApp gave up (about 60 s) or could not connect: never leave RUNNING behind.
    var text = 'the backend did not answer (' + btmErrorText_(err) +
               '); refresh again';
    if (sheet) {
      sheet.getRange(BTM_STATUS_CELL).setValue('ERROR: ' + text);
    }
    spreadsheet.toast('Not refreshed: ' + text, 'BtM PPA', 15);
  } finally {
    lock.releaseLock();
  }
}

/**
 * @param {*} err
 * @return {string}
 */
function btmErrorText_(err) {
  return String((err && err.message) || err);
}

function btmRefreshFromMenu() {
  btmRefresh_(SpreadsheetApp.getActive(), 'menu', 1000);
}

/** Checks every input cell: the backend reads and reports (quick: nothing is computed). */
function btmValidateFromMenu() {
  var spreadsheet = SpreadsheetApp.getActive();
  var message;
  try {
    var result = btmCall_(btmRefreshPayload(spreadsheet.getId(), BTM_INPUT_TAB, true));
    message = btmResultMessage(result.status, result.text);
  } catch (err) {
    message = 'The backend did not answer (' + btmErrorText_(err) + ')';
  }
  var ui = SpreadsheetApp.getUi();
  ui.alert('BtM PPA: validate inputs', message, ui.ButtonSet.OK);
}

/** Installable onEdit for this file and this user (simple triggers cannot fetch URLs). */
function btmInstallEditTrigger() {
  var spreadsheet = SpreadsheetApp.getActive();
  ScriptApp.getUserTriggers(spreadsheet).forEach(function (t) {
    if (t.getHandlerFunction() === 'btmOnEdit') {
      ScriptApp.deleteTrigger(t);
    }
  });
  ScriptApp.newTrigger('btmOnEdit').forSpreadsheet(spreadsheet).onEdit().create();
  spreadsheet.toast('Edits to the BESS inputs now mark results stale and refresh them.',
                    'BtM PPA', 10);
}

/**
 * An input edit marks row 62 STALE and queues a refresh. If another execution holds the
 * lock for long, STALE stays: the queued refresh re-reads the inputs before writing.
 * @param {GoogleAppsScript.Events.SheetsOnEdit} e
 */
function btmOnEdit(e) {
  var range = e.range;
  var sheet = range.getSheet();
  if (!btmIsInputEdit(sheet.getName(), range.getRow(), range.getColumn())) {
    return;
  }
  var spreadsheet = sheet.getParent();
  var who = (e.user && e.user.getEmail && e.user.getEmail()) || '';
  var inputs = spreadsheet.getSheetByName(BTM_INPUT_TAB);
  if (inputs) {
    inputs.getRange(BTM_STATUS_CELL).setValue(btmStaleText(btmNow_(), who));
    SpreadsheetApp.flush();
  }
  btmRefresh_(spreadsheet, 'edit', 20000);
}

/**
 * The Dispatch tab (daily summary) and its chart, made once; the backend fills it.
 * @param {GoogleAppsScript.Spreadsheet.Spreadsheet} spreadsheet
 */
function btmEnsureDispatchTab_(spreadsheet) {
  if (spreadsheet.getSheetByName('Dispatch')) {
    return;
  }
  var tab = spreadsheet.insertSheet('Dispatch');
  tab.getRange('A1:G1').setValues([['Settlement date', 'Charge (MWh)', 'Discharge (MWh)',
    'Import Red (MWh)', 'Import Amber (MWh)', 'Import Green (MWh)', 'Profit (£)']]);
  tab.getRange('A2:A').setNumberFormat('yyyy-mm-dd');
  tab.getRange('B2:F').setNumberFormat('#,##0.000');
  tab.getRange('G2:G').setNumberFormat('£#,##0.00');
  var chart = tab.newChart().setChartType(Charts.ChartType.LINE)
    .addRange(tab.getRange('A1:C')).setPosition(2, 9, 0, 0)
    .setOption('title', 'Daily charge and discharge (MWh)').build();
  tab.insertChart(chart);
}

function btmAbout() {
  var ui = SpreadsheetApp.getUi();
  ui.alert(
    'BtM PPA',
    'Values behind-the-meter battery PPA deals in the BESS tab: Stream 1 (direct import) ' +
    'and Stream 2 (battery) profits from half-hourly GB system prices. Results are written ' +
    'to rows 50-62 by the btm-ppa backend. Inputs are the yellow cells; B22 picks the ' +
    'method (sheet, greedy, optimal, realistic).',
    ui.ButtonSet.OK);
}
