import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offscreen, trailingChildrenDroppable } from '../src/render.js';

const BLOCK = { display: 'block' };
const parent = { nodeType: 1 };
const element = (top, height, parentElement = parent) => ({
  nodeType: 1, parentElement, getBoundingClientRect: () => ({ top, height, bottom: top + height }) });
const styleOf = (style) => () => style;

test('only elements starting below the viewport are left out of the clone', () => {
  const none = new Set();
  const block = styleOf(BLOCK);
  assert.equal(offscreen(element(900, 200), 800, none, block), true); // below: the rest of a long page
  assert.equal(offscreen(element(800, 10), 800, none, block), true); // starts exactly at the bottom edge
  assert.equal(offscreen(element(790, 200), 800, none, block), false); // partly visible
  assert.equal(offscreen(element(-500, 300), 800, none, block), false); // above: dropping it would move the page up
  assert.equal(offscreen(element(100, 300), 800, none, block), false);
});

test('what the viewport paints is kept even when its own box is below (a fixed banner inside the footer)', () => {
  const footer = element(2400, 300);
  assert.equal(offscreen(footer, 800, new Set([footer]), styleOf(BLOCK)), false);
});

test('text nodes and boxless elements (display: contents, display: none) are never left out', () => {
  const block = styleOf(BLOCK);
  assert.equal(offscreen({ nodeType: 3 }, 800, new Set(), block), false);
  assert.equal(offscreen(element(0, 0), 800, new Set(), block), false);
  assert.equal(offscreen(element(1200, 0), 800, new Set(), block), false);
});

test('a child below the viewport is kept where dropping it could move what is visible', () => {
  const flex = { display: 'flex', flexDirection: 'row', flexWrap: 'wrap', justifyContent: 'normal', alignContent: 'normal' };
  const grid = { display: 'grid', flexDirection: 'row', flexWrap: 'nowrap', gridAutoFlow: 'row', justifyContent: 'normal',
    alignContent: 'normal' };
  for (const style of [BLOCK, { display: 'flow-root' }, { display: 'list-item' }, flex, grid]) {
    assert.equal(trailingChildrenDroppable(style), true, JSON.stringify(style));
    assert.equal(offscreen(element(900, 50), 800, new Set(), styleOf(style)), true);
  }
  for (const style of [{ display: 'table-row-group' }, { display: 'table' }, { display: 'contents' },
    { ...flex, flexDirection: 'column-reverse' }, { ...flex, flexWrap: 'wrap-reverse' }, { ...flex, justifyContent: 'center' },
    { ...flex, alignContent: 'space-between' }, { ...grid, gridAutoFlow: 'row dense' }, { ...grid, alignContent: 'end' }]) {
    assert.equal(trailingChildrenDroppable(style), false, JSON.stringify(style));
    assert.equal(offscreen(element(900, 50), 800, new Set(), styleOf(style)), false, JSON.stringify(style));
  }
});
