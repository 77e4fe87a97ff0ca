import { describe, expect, it } from 'vitest';
import { encodeBinaryCopy } from './copy-binary.ts';

describe('binary COPY encoding', () => {
  it('writes the signature, one tuple per row and the trailer, with PostgreSQL epochs and big-endian ints', () => {
    const buf = encodeBinaryCopy(1, [
      { type: 'text', values: ['é'] },
      { type: 'uuid', values: ['0E6C1F0A-2d1b-4c55-9a51-6f3f0a9b7c11'] },
      { type: 'uuid', values: [null] },
      { type: 'int8', values: [-2] },
      { type: 'float8', values: [0.5] },
      { type: 'timestamptz', values: [Date.UTC(2000, 0, 1, 0, 0, 1)] },
    ]);
    expect(buf.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
    let at = 19;
    expect(buf.readInt16BE(at)).toBe(6);
    at += 2;
    expect(buf.readInt32BE(at)).toBe(2);
    expect(buf.subarray(at + 4, at + 6).toString('utf8')).toBe('é');
    at += 6;
    expect(buf.readInt32BE(at)).toBe(16);
    expect(buf.subarray(at + 4, at + 20).toString('hex')).toBe('0e6c1f0a2d1b4c559a516f3f0a9b7c11');
    at += 20;
    expect(buf.readInt32BE(at)).toBe(-1);
    at += 4;
    expect(buf.readBigInt64BE(at + 4)).toBe(-2n);
    at += 12;
    expect(buf.readDoubleBE(at + 4)).toBe(0.5);
    at += 12;
    expect(buf.readBigInt64BE(at + 4)).toBe(1_000_000n);
    at += 12;
    expect(buf.readInt16BE(at)).toBe(-1);
    expect(buf.length).toBe(at + 2);
  });

  it('refuses a value it cannot encode exactly', () => {
    expect(() => encodeBinaryCopy(1, [{ type: 'uuid', values: ['not-a-uuid'] }])).toThrow(/not a uuid/);
    expect(() => encodeBinaryCopy(1, [{ type: 'int8', values: [2 ** 60] }])).toThrow(/not a safe integer/);
  });
});
