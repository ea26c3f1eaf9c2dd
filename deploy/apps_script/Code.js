/**
 * The BtM PPA menu in the spreadsheet: Refresh profits, Validate inputs, Install edit
 * trigger, About. Calls the Cloud Functions with the user's identity token.
 */

var BTM_STATUS_CELL = 'B62';

function onOpen() {
  SpreadsheetApp.getUi().createMenu('BtM PPA')
    .addItem('Refresh profits', 'btmRefreshFromMenu')
    .addItem('Validate inputs', 'btmValidateFromMenu')
    .addSeparator()
    .addItem('Install edit trigger', 'btmInstallEditTrigger')
    .addItem('About', 'btmAbout')
    .addToUi();
}

function btmProperties_() {
  return PropertiesService.getScriptProperties().getProperties();
}

function btmNow_() {
  return Utilities.formatDate(new Date(), 'UTC', 'yyyy-MM-dd HH:mm:ss') + ' UTC';
}

/** POST to a function with the user's identity token; returns {status, text}. */
function btmCall_(name, payload) {
  var response = UrlFetchApp.fetch(btmFunctionUrl(btmProperties_(), name), {
    method: 'post',
    contentType: 'application/json',
    headers: {Authorization: 'Bearer ' + ScriptApp.getIdentityToken()},
    payload: payload,
    muteHttpExceptions: true
  });
  return {status: response.getResponseCode(), text: response.getContentText()};
}

/** One refresh at a time per spreadsheet: a second click finds the lock taken. */
function btmRefresh_(spreadsheet, quiet) {
  var lock = LockService.getDocumentLock();
  if (!lock.tryLock(1000)) {
    spreadsheet.toast('A refresh is already running; it will finish by itself.', 'BtM PPA', 5);
    return;
  }
  try {
    var sheet = spreadsheet.getSheetByName(BTM_INPUT_TAB);
    if (!sheet) {
      spreadsheet.toast('No ' + BTM_INPUT_TAB + ' tab in this spreadsheet.', 'BtM PPA', 10);
      return;
    }
    sheet.getRange(BTM_STATUS_CELL).setValue(btmRunningText(btmNow_()));
    SpreadsheetApp.flush();
    if (!quiet) {
      spreadsheet.toast('Refreshing profits...', 'BtM PPA', 30);
    }
    btmEnsureDispatchTab_(spreadsheet);
    var result = btmCall_('REFRESH', btmRefreshPayload(spreadsheet.getId(), BTM_INPUT_TAB));
    spreadsheet.toast(btmResultMessage(result.status, result.text), 'BtM PPA', 15);
    if (result.status >= 500 || result.status === 401 || result.status === 403) {
      // The backend could not write row 62 itself; say so there.
      sheet.getRange(BTM_STATUS_CELL).setValue(btmResultMessage(result.status, result.text));
    }
  } finally {
    lock.releaseLock();
  }
}

function btmRefreshFromMenu() {
  btmRefresh_(SpreadsheetApp.getActive(), false);
}

/** Checks every input cell: the backend reads and reports, writing only row 62. */
function btmValidateFromMenu() {
  var spreadsheet = SpreadsheetApp.getActive();
  var result = btmCall_('REFRESH', btmRefreshPayload(spreadsheet.getId(), BTM_INPUT_TAB, true));
  SpreadsheetApp.getUi().alert('BtM PPA: validate inputs',
                               btmResultMessage(result.status, result.text),
                               SpreadsheetApp.getUi().ButtonSet.OK);
}

/** Installable onEdit (simple triggers cannot call UrlFetchApp). */
function btmInstallEditTrigger() {
  var spreadsheet = SpreadsheetApp.getActive();
  ScriptApp.getProjectTriggers().forEach(function (t) {
    if (t.getHandlerFunction() === 'btmOnEdit') {
      ScriptApp.deleteTrigger(t);
    }
  });
  ScriptApp.newTrigger('btmOnEdit').forSpreadsheet(spreadsheet).onEdit().create();
  spreadsheet.toast('Edits to the BESS inputs now mark results stale and refresh them.',
                    'BtM PPA', 10);
}

function btmOnEdit(e) {
  var range = e.range;
  var sheet = range.getSheet();
  if (!btmIsInputEdit(sheet.getName(), range.getRow(), range.getColumn())) {
    return;
  }
  var spreadsheet = sheet.getParent();
  var who = (e.user && e.user.getEmail && e.user.getEmail()) || '';
  spreadsheet.getSheetByName(BTM_INPUT_TAB).getRange(BTM_STATUS_CELL)
    .setValue(btmStaleText(btmNow_(), who));
  SpreadsheetApp.flush();
  btmRefresh_(spreadsheet, true);
}

/** The Dispatch tab (daily summary) and its chart, made once; the backend fills it. */
function btmEnsureDispatchTab_(spreadsheet) {
  var tab = spreadsheet.getSheetByName('Dispatch');
  if (tab) {
    return;
  }
  tab = spreadsheet.insertSheet('Dispatch');
  tab.getRange('A1:G1').setValues([['Settlement date', 'Charge (MWh)', 'Discharge (MWh)',
    'Import Red (MWh)', 'Import Amber (MWh)', 'Import Green (MWh)', 'Profit (£)']]);
  tab.getRange('A2:A').setNumberFormat('yyyy-mm-dd');
  tab.getRange('B2:F').setNumberFormat('#,##0.000');
  tab.getRange('G2:G').setNumberFormat('£#,##0.00');
  var chart = tab.newChart().setChartType(Charts.ChartType.LINE)
    .addRange(tab.getRange('A1:C2000')).setPosition(2, 9, 0, 0)
    .setOption('title', 'Daily charge and discharge (MWh)').build();
  tab.insertChart(chart);
}

function btmAbout() {
  SpreadsheetApp.getUi().alert(
    'BtM PPA',
    'Values behind-the-meter battery PPA deals in the BESS tab: Stream 1 (direct import) ' +
    'and Stream 2 (battery) profits from half-hourly GB system prices. Results are written ' +
    'to rows 50-62 by the btm-ppa backend. Inputs are the yellow cells; B22 picks the ' +
    'method (sheet, greedy, optimal).',
    SpreadsheetApp.getUi().ButtonSet.OK);
}
