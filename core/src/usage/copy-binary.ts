/**
 * PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Binary Format") for the few column types the usage stage table has: the server copies the
 * values in without parsing text, the cheapest way to hand it many rows.
 */

export type CopyColumn =
  | { type: 'text'; values: readonly string[] }
  | { type: 'uuid'; values: readonly (string | null)[] }
  | { type: 'float8'; values: readonly number[] }
  | { type: 'int8'; values: readonly number[] }
  /** Milliseconds since the Unix epoch. */
  | { type: 'timestamptz'; values: readonly number[] };

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z in ms: PostgreSQL's timestamp epoch. */
const PG_EPOCH_MS = 946_684_800_000;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function writeUuid(buf: Buffer, at: number, uuid: string): void {
  let o = at;
  let hi = -1;
  for (let i = 0; i < uuid.length; i++) {
    const c = uuid.charCodeAt(i);
    if (c === 45) continue; // '-'
    const v = hexValue(c);
    if (v < 0) throw new Error(`not a uuid: ${uuid}`);
    if (hi < 0) hi = v;
    else {
      buf[o++] = (hi << 4) | v;
      hi = -1;
    }
  }
  if (o - at !== 16 || hi >= 0) throw new Error(`not a uuid: ${uuid}`);
}

/** A safe integer as a big-endian int64 (two's complement), without BigInt. */
function writeInt64(buf: Buffer, at: number, value: number): number {
  if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
  buf.writeInt32BE(Math.floor(value / 4_294_967_296), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
  return at + 8;
}

/** The whole COPY … FROM STDIN (FORMAT binary) payload for `rows` rows of these columns. */
export function encodeBinaryCopy(rows: number, columns: readonly CopyColumn[]): Buffer {
  const texts = columns.map((c) => (c.type === 'text' ? c.values.map((v) => Buffer.from(v, 'utf8')) : null));
  let size = SIGNATURE.length + 8 + 2;
  for (let r = 0; r < rows; r++) {
    size += 2;
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c];
      size += 4;
      if (col.type === 'text') size += (texts[c] as Buffer[])[r].length;
      else if (col.type === 'uuid') size += col.values[r] === null ? 0 : 16;
      else size += 8;
    }
  }
  const buf = Buffer.allocUnsafe(size);
  let at = SIGNATURE.copy(buf, 0);
  at = buf.writeInt32BE(0, at); // flags
  at = buf.writeInt32BE(0, at); // header extension length
  for (let r = 0; r < rows; r++) {
    at = buf.writeInt16BE(columns.length, at);
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c];
      switch (col.type) {
        case 'text': {
          const bytes = (texts[c] as Buffer[])[r];
          at = buf.writeInt32BE(bytes.length, at);
          at += bytes.copy(buf, at);
          break;
        }
        case 'uuid': {
          const v = col.values[r];
          if (v === null) at = buf.writeInt32BE(-1, at);
          else {
            at = buf.writeInt32BE(16, at);
            writeUuid(buf, at, v);
            at += 16;
          }
          break;
        }
        case 'float8':
          at = buf.writeInt32BE(8, at);
          at = buf.writeDoubleBE(col.values[r], at);
          break;
        case 'int8':
          at = buf.writeInt32BE(8, at);
          at = writeInt64(buf, at, col.values[r]);
          break;
        case 'timestamptz':
          at = buf.writeInt32BE(8, at);
          at = writeInt64(buf, at, (col.values[r] - PG_EPOCH_MS) * 1000);
          break;
      }
    }
  }
  at = buf.writeInt16BE(-1, at); // trailer
  if (at !== size) throw new Error(`binary COPY size mismatch: ${at} != ${size}`);
  return buf;
}
