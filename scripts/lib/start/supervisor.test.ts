import { describe, expect, it } from 'vitest';
import { prettyPrinter, relayText } from './supervisor.ts';

const PINO_LINE = JSON.stringify({
  level: 30,
  time: Date.UTC(2026, 11, 3, 10, 0, 0),
  pid: 4242,
  hostname: 'box',
  name: 'web',
  msg: 'web listening on http://localhost:3000',
  port: 3000,
});

describe('relayText', () => {
  it("pretty-prints a child's pino line: level and message, no JSON", () => {
    const text = relayText(PINO_LINE, prettyPrinter(false));
    expect(text).toContain('INFO');
    expect(text).toContain('web listening on http://localhost:3000');
    expect(text).not.toContain('{"level"');
    expect(text).not.toContain('4242');
    // One line: its fields stay with the message.
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toContain('"port":3000');
    // No colour codes when the output is not a terminal.
    expect(text).not.toContain('\u001b[');
  });

  it('leaves other lines, and every line with the json format, as they came', () => {
    expect(relayText('plain output', prettyPrinter(false))).toBe('plain output');
    expect(relayText('{"level": not json', prettyPrinter(false))).toBe('{"level": not json');
    expect(relayText(PINO_LINE, null)).toBe(PINO_LINE);
  });
});
