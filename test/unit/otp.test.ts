import { codeMatches, generateCode, hashCode, normaliseSubmittedCode } from '#core/otp/codes';

const pepper = Buffer.from('unit-test-pepper-0123456789abcdef');
const binding = 'proj#dev#sms#+919876543211#challenge-1';

describe('generateCode', () => {
  test.each([6, 7, 8, 9, 10])('gives exactly %i digits', (length) => {
    expect(generateCode(length)).toMatch(new RegExp(`^[0-9]{${length}}$`));
  });

  test.each([3, 5, 11, 6.5])('rejects length %p with a RangeError', (length) => {
    expect(() => generateCode(length)).toThrow(RangeError);
  });

  test('can produce a 9: the injected RNG is asked for [0, 10), not [0, 9)', () => {
    expect(generateCode(6, (maxExclusive) => maxExclusive - 1)).toBe('999999');
  });

  test('uses every digit in every position with the default crypto RNG', () => {
    const seen = Array.from({ length: 6 }, () => new Set<string>());
    for (let i = 0; i < 2000; i += 1) {
      [...generateCode(6)].forEach((digit, position) => seen[position]?.add(digit));
    }
    // A digit missing from one position after 2000 draws has probability ~1e-91 for a uniform RNG.
    for (const digits of seen) expect([...digits].sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('hashCode / codeMatches', () => {
  test('is deterministic', () => {
    expect(hashCode(pepper, binding, '123456')).toBe(hashCode(pepper, binding, '123456'));
  });

  test('differs when the pepper, the binding or the code differs', () => {
    const base = hashCode(pepper, binding, '123456');
    expect(hashCode(Buffer.from('another-pepper-0123456789abcdefgh'), binding, '123456')).not.toBe(base);
    expect(hashCode(pepper, 'proj#dev#sms#+919876543211#challenge-2', '123456')).not.toBe(base);
    expect(hashCode(pepper, binding, '123457')).not.toBe(base);
  });

  test('never contains the code', () => {
    for (const code of ['123456', '000000', '9999999999']) {
      expect(hashCode(pepper, binding, code)).not.toContain(code);
    }
  });

  test('codeMatches accepts the right code and rejects a wrong code or another binding', () => {
    const stored = hashCode(pepper, binding, '123456');
    expect(codeMatches(pepper, binding, '123456', stored)).toBe(true);
    expect(codeMatches(pepper, binding, '123457', stored)).toBe(false);
    expect(codeMatches(pepper, `${binding}x`, '123456', stored)).toBe(false);
  });

  test('codeMatches returns false (does not throw) for a stored hash of another length', () => {
    const stored = hashCode(pepper, binding, '123456');
    expect(codeMatches(pepper, binding, '123456', stored.slice(0, -1))).toBe(false);
    expect(codeMatches(pepper, binding, '123456', '')).toBe(false);
  });
});

describe('normaliseSubmittedCode', () => {
  test('left-pads an integer that lost its leading zeros', () => {
    expect(normaliseSubmittedCode(1234, 6)).toBe('001234');
  });

  test('keeps a string with leading zeros as sent', () => {
    expect(normaliseSubmittedCode('012345', 6)).toBe('012345');
  });

  test('trims surrounding whitespace', () => {
    expect(normaliseSubmittedCode(' 123456 ', 6)).toBe('123456');
  });

  test.each<[string, unknown]>([
    ['a too-short string', '12345'],
    ['a too-long string', '1234567'],
    ['a too-long integer', 1234567],
    ['an unpadded short string', '1234'],
    ['letters', '12a456'],
    ['a negative integer', -12345],
    ['a fraction', 12.5],
    ['null', null],
    ['undefined', undefined],
    ['an object', { code: '123456' }],
    ['a boolean', true],
  ])('rejects %s', (_label, value) => {
    expect(normaliseSubmittedCode(value, 6)).toBeUndefined();
  });

  test('rejects an integer beyond 2^53, whose digits JSON parsing may already have rounded', () => {
    // Length 16 so that only the safe-integer check (not the length check) can reject it.
    expect(normaliseSubmittedCode(2 ** 53 + 2, 16)).toBeUndefined();
    expect(normaliseSubmittedCode(2 ** 53 - 1, 16)).toBe('9007199254740991');
  });
});
