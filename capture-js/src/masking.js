// What the capture script never lets into a frame (pure: no DOM access, unit-tested with node --test).
// The server repeats the text rules (services/common/privacy.py) as a second line.

export const DEFAULT_MASK_SELECTOR = '[data-interarec-mask]';
export const DEFAULT_BLOCKED_PATHS = ['/checkout', '/account', '/login', '/register', '/cart/payment'];
export const MASK_CHAR = '\u2588'; // a full block: what masked text is drawn as

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const CARD = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;
const PHONE = /(?<![\w$€£.,])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,14}(?![\w.,]?\d)/g;
const PHONE_MIN_DIGITS = 9; // fewer is a date, a count or a postcode

export function luhnValid(digits) {
  let total = 0;
  let odd = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (odd) d = d > 4 ? d * 2 - 9 : d * 2;
    total += d;
    odd = !odd;
  }
  return total % 10 === 0;
}

const digitCount = (s) => (s.match(/\d/g) || []).length;
const block = (s) => s.replace(/\S/g, MASK_CHAR);

/** The text with every e-mail address, Luhn-valid card number and phone number drawn as blocks
 * (same length). Returns the input itself when nothing matched. */
export function maskText(text) {
  if (!text || !/[@\d]/.test(text)) return text;
  let out = text.replace(EMAIL, block);
  out = out.replace(CARD, (m) => (luhnValid(m.replace(/\D/g, '')) ? block(m) : m));
  out = out.replace(PHONE, (m) => (digitCount(m) >= PHONE_MIN_DIGITS ? block(m) : m));
  return out;
}

/** [start, end) ranges of the personal data in a text, in order, not overlapping (what the renderer paints
 * over in place, so the page's layout does not move). */
export function personalRanges(text) {
  const masked = maskText(text);
  const ranges = [];
  if (masked === text) return ranges;
  for (let i = 0; i < text.length; i++) {
    if (masked[i] === text[i]) continue;
    let end = i;
    // one range per match: blocks replace non-space characters only, so bridge the spaces inside it
    while (end < text.length && (masked[end] !== text[end] || /\s/.test(text[end]))) end++;
    while (end > i && /\s/.test(text[end - 1])) end--;
    ranges.push([i, end]);
    i = end;
  }
  return ranges;
}

export function looksPersonal(text) {
  return maskText(text) !== text;
}

/** Form fields are masked whatever they hold: a value typed by the shopper is theirs. */
export function isFormField(tagName) {
  const t = String(tagName).toUpperCase();
  return t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT';
}

/** Whether a page may be captured at all: a path equal to or below a blocked prefix, or matching a
 * blocked RegExp, never is. */
export function pageBlocked(url, blocked = DEFAULT_BLOCKED_PATHS) {
  let path;
  try {
    path = new URL(url).pathname.toLowerCase();
  } catch {
    return true; // unparseable: do not capture
  }
  return blocked.some((rule) => {
    if (rule instanceof RegExp) return rule.test(path);
    const prefix = String(rule).toLowerCase().replace(/\/+$/, '');
    return path === prefix || path.startsWith(prefix + '/');
  });
}
