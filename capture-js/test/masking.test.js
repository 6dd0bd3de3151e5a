import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFormField, looksPersonal, luhnValid, MASK_CHAR, maskText, pageBlocked } from '../src/masking.js';

test('e-mail addresses, phone numbers and Luhn-valid card numbers are drawn as blocks of the same length', () => {
  for (const secret of ['jane.doe@example.com', '+1 (415) 555-0134', '020 7946 0958', '4111 1111 1111 1111',
    '4111-1111-1111-1111', '5500005555555559']) {
    const text = `Contact ${secret} today`;
    const masked = maskText(text);
    assert.equal(masked.length, text.length, secret);
    assert.ok(!masked.includes(secret), secret);
    assert.ok(masked.includes(MASK_CHAR), secret);
    assert.ok(masked.startsWith('Contact ') && masked.endsWith(' today'), secret);
  }
});

test('shop text is left alone: prices, SKUs, ratings, dates, counts', () => {
  for (const text of ['$1,299.00', 'List: $2,499.99 Now $1,999.00', 'SKU: P00042', '4.5 out of 5 (1234 reviews)',
    'Order 2026-12-06', 'Results 1-36 of 1200', 'Free shipping on orders over $50', 'Norda Trail Runner 2']) {
    assert.equal(maskText(text), text);
    assert.equal(looksPersonal(text), false);
  }
});

test('a 16-digit number failing the Luhn check is not a card (it is still phone-length, so masked)', () => {
  assert.equal(luhnValid('4111111111111111'), true);
  assert.equal(luhnValid('4111111111111112'), false);
  assert.equal(maskText('1234'), '1234');
});

test('form fields are always masked', () => {
  assert.ok(isFormField('input') && isFormField('TEXTAREA') && isFormField('select'));
  assert.ok(!isFormField('div') && !isFormField('label'));
});

test('checkout and account pages are never captured, other pages are', () => {
  assert.ok(pageBlocked('https://shop.example/checkout'));
  assert.ok(pageBlocked('https://shop.example/checkout/payment?step=2'));
  assert.ok(pageBlocked('https://shop.example/ACCOUNT/orders'));
  assert.ok(!pageBlocked('https://shop.example/checkout-tips'));
  assert.ok(!pageBlocked('https://shop.example/p/P00001'));
  assert.ok(pageBlocked('https://shop.example/my/secret', [/^\/my\//]));
  assert.ok(pageBlocked('not a url'));
});

test('personal ranges cover each match whole, spaces inside included, and nothing else', async () => {
  const { personalRanges } = await import('../src/masking.js');
  const text = 'Call +1 (415) 555-0134 or write jane@example.com, SKU P00042';
  const ranges = personalRanges(text);
  assert.deepEqual(ranges.map(([s, e]) => text.slice(s, e)), ['+1 (415) 555-0134', 'jane@example.com']);
  assert.deepEqual(personalRanges('List: $2,499.99'), []);
});
