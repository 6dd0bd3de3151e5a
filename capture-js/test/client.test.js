import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { captureAllowed, dHash, FrameQueue, hamming, outcome, retryDelayMs } from '../src/client.js';

const base = { started: true, consent: true, hidden: false, blocked: false, gpc: false, honourGpc: true };

test('capture needs start and consent, and stops for a hidden tab, a blocked page or Global Privacy Control', () => {
  assert.equal(captureAllowed(base), true);
  for (const key of ['started', 'consent']) assert.equal(captureAllowed({ ...base, [key]: false }), false, key);
  for (const key of ['hidden', 'blocked', 'gpc']) assert.equal(captureAllowed({ ...base, [key]: true }), false, key);
  assert.equal(captureAllowed({ ...base, gpc: true, honourGpc: false }), true);
});

test('the queue is bounded and drops the oldest frame', () => {
  const q = new FrameQueue(2);
  for (const seq of [1, 2, 3, 4]) q.push({ seq });
  assert.deepEqual(q.items.map((f) => f.seq), [3, 4]);
  assert.equal(q.dropped, 2);
  const first = q.shift();
  q.push({ seq: 5 });
  q.unshift(first); // full again: the retried frame is the one dropped
  assert.deepEqual(q.items.map((f) => f.seq), [4, 5]);
  assert.equal(q.dropped, 3);
});

test('retries honour Retry-After, else back off exponentially with jitter up to 30 s', () => {
  assert.equal(retryDelayMs(0, '3'), 3000);
  assert.equal(retryDelayMs(5, '0'), 0);
  assert.equal(retryDelayMs(0, null, () => 0), 250);
  assert.equal(retryDelayMs(3, null, () => 0.999999), 4000);
  assert.equal(retryDelayMs(20, null, () => 0.999999), 30000);
  assert.equal(retryDelayMs(1, 'soon', () => 0), 500); // an unparseable Retry-After: own backoff
});

test('gateway answers: accepted or duplicate are sent, 401 refreshes the token, 429/503 retry, 4xx drop', () => {
  assert.equal(outcome(202), 'sent');
  assert.equal(outcome(200), 'sent');
  assert.equal(outcome(401), 'token');
  assert.equal(outcome(429), 'retry');
  assert.equal(outcome(503), 'retry');
  assert.equal(outcome(0), 'retry'); // network error
  assert.equal(outcome(403), 'drop');
  assert.equal(outcome(413), 'drop');
});

test('the difference hash changes when the pixels change and not otherwise', () => {
  const cols = 4;
  const rows = 2;
  const a = Float32Array.from({ length: (cols + 1) * rows }, (_, i) => (i * 37) % 11);
  const b = Float32Array.from(a);
  assert.equal(hamming(dHash(a, cols, rows), dHash(b, cols, rows)), 0);
  b[2] = -5; // was brighter than its left neighbour, now darker
  assert.ok(hamming(dHash(a, cols, rows), dHash(b, cols, rows)) > 0);
  assert.equal(hamming(null, dHash(a, cols, rows)), Infinity);
});

// The budget: the script is added to every page of a shop, so it must stay small.
export const BUDGET_MINIFIED = 40 * 1024;
export const BUDGET_GZIP = 16 * 1024;

test(`the built bundle stays within ${BUDGET_MINIFIED / 1024} KiB minified and ${BUDGET_GZIP / 1024} KiB gzipped`, () => {
  const path = new URL('../dist/interarec-capture.js', import.meta.url);
  assert.ok(statSync(path).size <= BUDGET_MINIFIED, `minified ${statSync(path).size} bytes`);
  const gz = gzipSync(readFileSync(path)).length;
  assert.ok(gz <= BUDGET_GZIP, `gzipped ${gz} bytes`);
});
