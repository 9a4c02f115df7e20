/**
 * Keeps the error catalogue (src/wire/errors.ts), its documentation
 * (docs/ERRORS.md) and TribuneError in step, after undici's test/errors.js.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERRORS, TribuneError, isErrorCode, type ErrorCode } from '../../src/wire/errors.js';

const DOC_PATH = new URL('../../docs/ERRORS.md', import.meta.url);
const NO_CLOSE = '—';

interface DocRow {
  code: string;
  status: number;
  close: number | undefined;
}

/** The rows of the table under "## Catalogue" whose first cell is a `CODE`. */
function readDocTable(): DocRow[] {
  const markdown = readFileSync(DOC_PATH, 'utf8');
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Catalogue'));
  assert.ok(section, 'docs/ERRORS.md has a "## Catalogue" section');
  const rows: DocRow[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    // A table line is "| a | b | ... |": empty first and last cells.
    const codeCell = /^`([^`]+)`$/.exec(cells[1] ?? '');
    if (!line.startsWith('|') || !codeCell) continue;
    const closeCell = cells[3] ?? '';
    rows.push({
      code: codeCell[1] ?? '',
      status: Number(cells[2]),
      close: closeCell === NO_CLOSE ? undefined : Number(closeCell),
    });
  }
  return rows;
}

const codes = Object.keys(ERRORS) as ErrorCode[];
const docRows = readDocTable();

function closeOf(code: ErrorCode): number | undefined {
  return (ERRORS[code] as { close?: number | undefined }).close;
}

test('docs/ERRORS.md has a table row for every code', () => {
  const documented = new Set(docRows.map((row) => row.code));
  const missing = codes.filter((code) => !documented.has(code));
  assert.deepEqual(missing, [], `add a row to docs/ERRORS.md for: ${missing.join(', ')}`);
});

test('every code in the docs/ERRORS.md table exists in ERRORS', () => {
  const unknown = docRows.map((row) => row.code).filter((code) => !isErrorCode(code));
  assert.deepEqual(unknown, [], `docs/ERRORS.md documents codes that src/wire/errors.ts does not have: ${unknown.join(', ')}`);
});

test('docs/ERRORS.md documents each code once', () => {
  const seen = new Set<string>();
  const twice = docRows.map((row) => row.code).filter((code) => seen.has(code) || !seen.add(code));
  assert.deepEqual(twice, []);
});

test('docs/ERRORS.md gives each code the HTTP status of the catalogue', () => {
  for (const row of docRows) {
    if (!isErrorCode(row.code)) continue;
    assert.equal(row.status, ERRORS[row.code].status, `HTTP status of ${row.code}`);
  }
});

test('docs/ERRORS.md gives each code the WebSocket close code of the catalogue, or — for none', () => {
  for (const row of docRows) {
    if (!isErrorCode(row.code)) continue;
    assert.equal(row.close, closeOf(row.code), `WS close code of ${row.code}`);
  }
});

test('every code is SCREAMING_SNAKE_CASE', () => {
  for (const code of codes) assert.match(code, /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/, code);
});

test('every status is an HTTP client or server error (4xx or 5xx)', () => {
  for (const code of codes) {
    const { status } = ERRORS[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
  }
});

test('every close code is one a server may send (RFC 6455 §7.4)', () => {
  // 1004-1006 and 1015 are reserved and must not be sent; 3000-4999 are for
  // registered and private use.
  const sendable = (close: number): boolean =>
    (close >= 1000 && close <= 1014 && ![1004, 1005, 1006].includes(close)) || (close >= 3000 && close <= 4999);
  for (const code of codes) {
    const close = closeOf(code);
    if (close !== undefined) assert.ok(Number.isInteger(close) && sendable(close), `${code}: ${close}`);
  }
});

test('every code has a message for people', () => {
  for (const code of codes) assert.ok(ERRORS[code].message.length > 0, code);
});

test('a TribuneError carries the code, status and close code of its catalogue entry', () => {
  for (const code of codes) {
    const error = new TribuneError(code, 'a detail');
    assert.equal(error.code, code);
    assert.equal(error.status, ERRORS[code].status);
    assert.equal(error.closeCode, closeOf(code));
    assert.equal(error.message, ERRORS[code].message);
    assert.deepEqual(error.toBody(), { error: { code, message: ERRORS[code].message, details: 'a detail' } });
    assert.ok(error instanceof Error);
  }
});

test('isErrorCode accepts every catalogue code and refuses anything else', () => {
  for (const code of codes) assert.equal(isErrorCode(code), true, code);
  for (const value of ['toString', '__proto__', 'constructor', 'space_not_found', '', 404, undefined, null]) {
    assert.equal(isErrorCode(value), false, String(value));
  }
});
