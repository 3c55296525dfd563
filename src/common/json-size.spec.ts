import fc from 'fast-check';
import { jsonFitsIn } from './json-size.js';

const exactSize = (value: unknown) => {
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
};

/** Strings heavy in what JSON escapes or UTF-8 widens: controls, quotes, accents, emoji, lone halves. */
const awkwardString = fc
  .array(
    fc.oneof(
      fc.constantFrom('"', '\\', '\n', '\u0001', '\u001f', 'é', '€', '😀', '\ud800', '\udfff', 'a'),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    awkwardString,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('any'), { maxLength: 6 }),
    fc.dictionary(awkwardString, tie('any'), { maxKeys: 6 }),
  ),
})).any;

describe('jsonFitsIn', () => {
  it('answers as serializing and measuring would, at limits around the real size', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: -40, max: 40 }), (v, offset) => {
        const size = exactSize(v);
        const limit = Math.max(0, size + offset);
        expect(jsonFitsIn(v, limit)).toBe(size <= limit);
      }),
      { numRuns: 3000 },
    );
  });

  it('bounds the longest numbers JSON prints', () => {
    // Fixed notation down to 1e-6 with 17 significant digits: the longest a number prints.
    for (const n of [-0.0000010000319168354702, -1.2345678901234567e-308, -123456789012345680000]) {
      const size = exactSize(n);
      expect(jsonFitsIn(n, size)).toBe(true);
      expect(jsonFitsIn(n, size - 1)).toBe(false);
    }
    expect(exactSize(-0.0000010000319168354702)).toBe(25);
  });

  it('measures what is not plain JSON data', () => {
    const buffer = Buffer.alloc(100);
    expect(jsonFitsIn(buffer, exactSize(buffer))).toBe(true);
    expect(jsonFitsIn(buffer, exactSize(buffer) - 1)).toBe(false);
    const date = new Date(0);
    expect(jsonFitsIn({ date }, exactSize({ date }))).toBe(true);
    expect(jsonFitsIn({ date }, exactSize({ date }) - 1)).toBe(false);
    expect(jsonFitsIn(undefined, 0)).toBe(true);
  });

  it('takes a signal just under 64 KiB and refuses one just over', () => {
    const limit = 64 * 1024;
    const envelope = exactSize({ sdp: '' });
    expect(jsonFitsIn({ sdp: 'x'.repeat(limit - envelope) }, limit)).toBe(true);
    expect(jsonFitsIn({ sdp: 'x'.repeat(limit - envelope + 1) }, limit)).toBe(false);
    // Escaped: each control character is six bytes of JSON.
    expect(jsonFitsIn({ sdp: '\u0001'.repeat(10_921) }, limit)).toBe(true);
    expect(jsonFitsIn({ sdp: '\u0001'.repeat(10_922) }, limit)).toBe(false);
  });
});
