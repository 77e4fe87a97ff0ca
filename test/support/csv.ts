import { parse } from 'csv-parse/sync';

/**
 * RFC 4180 CSV read back by an independent parser (csv-parse), as records by header; the
 * product's CSV ends every line with CRLF, the last one included.
 */
export function parseCsvRecords(text: string): Record<string, string>[] {
  if (!text.endsWith('\r\n')) throw new Error('the CSV does not end with CRLF');
  return parse(text, { columns: true, record_delimiter: '\r\n' });
}
