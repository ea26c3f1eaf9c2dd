// A fake of the Apps Script services the add-on uses, behaving as Google documents them,
// and a loader that runs the add-on's files in one global scope as Apps Script does.
//
// - UrlFetchApp.fetch: https only; the backend is a function (request -> {status, body,
//   delayMs}); a call whose answer takes longer than the deadline (60 s) throws
//   "Exception: Timeout: <url>" after 60 s of the fake clock, as UrlFetchApp does.
// - LockService.getDocumentLock(): one lock per document shared by every execution;
//   tryLock(ms) waits up to ms (fake clock) and returns false; waitLock throws; release
//   by its holder only; a lock still held when its execution ends is released.
// - ScriptApp: AuthMode; identity/OAuth tokens of the current user; installable triggers
//   per user and document (getUserTriggers lists only the current user's).
// - Under AuthMode.NONE only SpreadsheetApp.getUi() may be called: everything else throws
//   "You do not have permission", as in an add-on's onOpen before authorisation.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const URLFETCH_DEADLINE_MS = 60000;

class Clock {
  constructor() { this.ms = Date.parse('2026-06-01T09:00:00Z'); }
  now() { return this.ms; }
  advance(ms) { this.ms += ms; }
}

class Range {
  constructor(sheet, a1) { this.sheet = sheet; this.a1 = a1; }
  getValue() { return this.sheet.cells[this.a1] === undefined ? '' : this.sheet.cells[this.a1]; }
  setValue(v) { this.sheet.cells[this.a1] = v; this.sheet.book.log.push(['set', this.sheet.name, this.a1, v]); return this; }
  setValues(rows) { this.sheet.cells[this.a1] = rows; return this; }
  setNumberFormat(f) { this.sheet.formats[this.a1] = f; return this; }
  getSheet() { return this.sheet; }
  getRow() { return Number(/\d+/.exec(this.a1)[0]); }
  getColumn() { return /[A-Z]+/.exec(this.a1)[0].split('').reduce((n, c) => n * 26 + c.charCodeAt(0) - 64, 0); }
}

class Sheet {
  constructor(book, name) { this.book = book; this.name = name; this.cells = {}; this.formats = {}; this.charts = []; }
  getName() { return this.name; }
  getParent() { return this.book.api; }
  getRange(a1) { return new Range(this, a1); }
  newChart() {
    const builder = {
      setChartType() { return builder; }, addRange() { return builder; },
      setPosition() { return builder; }, setOption() { return builder; },
      build() { return {kind: 'chart'}; },
    };
    return builder;
  }
  insertChart(chart) { this.charts.push(chart); }
}

class Book {
  constructor(env, id) {
    this.env = env; this.id = id; this.sheets = {}; this.toasts = []; this.log = [];
    this.lockHolder = null;
    const book = this;
    this.api = {
      getId: () => id,
      getSheetByName: (n) => (book.sheets[n] ? book.sheets[n] : null),
      insertSheet: (n) => {
        if (book.sheets[n]) throw new Error(`A sheet with the name "${n}" already exists.`);
        return (book.sheets[n] = new Sheet(book, n));
      },
      toast: (msg, title, s) => { book.toasts.push(msg); },
    };
  }
  sheet(name) { return this.sheets[name] || (this.sheets[name] = new Sheet(this, name)); }
}

class Env {
  constructor() {
    this.clock = new Clock();
    this.book = new Book(this, '1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789');
    this.book.sheet('BESS');
    this.user = 'alice@example.com';
    this.authMode = 'FULL';
    this.menus = [];
    this.alerts = [];
    this.fetches = [];
    this.triggers = [];
    this.scriptProperties = {};
    this.backend = () => ({status: 200, body: '{}'});
    this.execution = 0;
  }

  need(what) {
    if (this.authMode === 'NONE') {
      throw new Error(`You do not have permission to call ${what} (AuthMode.NONE)`);
    }
  }

  globals() {
    const env = this;
    const book = this.book;
    const ui = {
      ButtonSet: {OK: 'OK'},
      createAddonMenu() {
        const menu = {items: [], addon: true,
          addItem(label, fn) { menu.items.push([label, fn]); return menu; },
          addSeparator() { menu.items.push(['-']); return menu; },
          addToUi() { env.menus.push(menu); }};
        return menu;
      },
      createMenu() { throw new Error('an add-on builds its menu with createAddonMenu()'); },
      alert(title, message) { env.need('Ui.alert'); env.alerts.push([title, message]); return 'OK'; },
    };
    const lock = {
      held: false,
      tryLock(ms) {
        env.need('LockService');
        if (book.lockHolder !== null && book.lockHolder !== env.execution) {
          env.clock.advance(ms);  // waited the whole time: another execution holds it
          return false;
        }
        book.lockHolder = env.execution; lock.held = true; return true;
      },
      waitLock(ms) { if (!lock.tryLock(ms)) throw new Error('Lock timeout: another process was holding the lock for too long.'); },
      releaseLock() { if (book.lockHolder === env.execution) book.lockHolder = null; lock.held = false; },
      hasLock() { return book.lockHolder === env.execution; },
    };
    return {
      SpreadsheetApp: {
        getUi: () => ui,
        getActive: () => { env.need('SpreadsheetApp.getActive'); return book.api; },
        flush: () => { env.need('SpreadsheetApp.flush'); },
      },
      UrlFetchApp: {
        fetch(url, params) {
          env.need('UrlFetchApp.fetch');
          if (!/^https:\/\//.test(url)) throw new Error(`Exception: Invalid argument: ${url}`);
          if (params.payload !== undefined && typeof params.payload !== 'string') {
            throw new Error('payload must be a string here (JSON.stringify it)');
          }
          const request = {url, method: params.method, headers: params.headers || {},
                           contentType: params.contentType,
                           body: params.payload === undefined ? undefined : JSON.parse(params.payload)};
          env.fetches.push(request);
          const answer = env.backend(request);
          if ((answer.delayMs || 0) > URLFETCH_DEADLINE_MS) {
            env.clock.advance(URLFETCH_DEADLINE_MS);
            throw new Error(`Exception: Timeout: ${url}`);
          }
          env.clock.advance(answer.delayMs || 0);
          if (answer.status >= 400 && !params.muteHttpExceptions) {
            throw new Error(`Exception: Request failed for ${url} returned code ${answer.status}`);
          }
          return {getResponseCode: () => answer.status, getContentText: () => answer.body};
        },
      },
      LockService: {getDocumentLock: () => { env.need('LockService'); return lock; }},
      PropertiesService: {getScriptProperties: () => {
        env.need('PropertiesService');
        return {getProperty: (k) => (k in env.scriptProperties ? env.scriptProperties[k] : null),
                getProperties: () => ({...env.scriptProperties})};
      }},
      ScriptApp: {
        AuthMode: {NONE: 'NONE', LIMITED: 'LIMITED', FULL: 'FULL', CUSTOM_FUNCTION: 'CUSTOM_FUNCTION'},
        getIdentityToken: () => { env.need('ScriptApp.getIdentityToken'); return `id-token-of-${env.user}`; },
        getOAuthToken: () => { env.need('ScriptApp.getOAuthToken'); return `oauth-token-of-${env.user}`; },
        getUserTriggers: (doc) => env.triggers.filter((t) => t.user === env.user && t.doc === doc.getId()),
        getProjectTriggers: () => env.triggers.filter((t) => t.user === env.user),
        deleteTrigger: (t) => { env.triggers = env.triggers.filter((x) => x !== t); },
        newTrigger: (fn) => ({forSpreadsheet: (doc) => ({onEdit: () => ({create: () => {
          const t = {user: env.user, doc: doc.getId(), fn, getHandlerFunction: () => fn};
          env.triggers.push(t); return t;
        }})})}),
      },
      Utilities: {formatDate: (d, tz, fmt) => {
        if (tz !== 'UTC' || fmt !== 'yyyy-MM-dd HH:mm:ss') throw new Error('fake formats UTC only');
        return d.toISOString().replace('T', ' ').slice(0, 19);
      }},
      Charts: {ChartType: {LINE: 'LINE'}},
    };
  }
}

/** Load the add-on's files (as clasp would push them) into one fresh global scope. */
function loadAddon(env, files) {
  const dir = path.resolve(__dirname, '..', '..', 'deploy', 'apps_script');
  const context = vm.createContext({...env.globals(), JSON, Date: fakeDate(env.clock), String, Number});
  for (const name of files) {
    vm.runInContext(fs.readFileSync(path.join(dir, name), 'utf8'), context, {filename: name});
  }
  return {
    call(fn, ...args) {  // one execution: its lock is released when it ends, as in Apps Script
      env.execution += 1;
      try {
        return context[fn](...args);
      } finally {
        if (env.book.lockHolder === env.execution) env.book.lockHolder = null;
      }
    },
    context,
  };
}

function fakeDate(clock) {
  return class extends Date {
    constructor(...args) { if (args.length) super(...args); else super(clock.now()); }
    static now() { return clock.now(); }
  };
}

module.exports = {Env, loadAddon, URLFETCH_DEADLINE_MS};
