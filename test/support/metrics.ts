/** A parsed Prometheus text exposition (format 0.0.4): the samples, and lookups by name and labels. */
export interface Scrape {
  samples: { name: string; labels: Record<string, string>; value: number }[];
  /** The TYPE line of each metric family. */
  types: Map<string, string>;
  /** The value of the one sample of `name` whose labels include `labels`; throws when none or several. */
  value(name: string, labels?: Record<string, string>): number;
  /** Like `value`, or `fallback` when there is no such sample. */
  valueOr(name: string, labels: Record<string, string>, fallback: number): number;
  /** Every sample of `name` whose labels include `labels`. */
  all(name: string, labels?: Record<string, string>): { labels: Record<string, string>; value: number }[];
  text: string;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null = re.exec(text);
  while (m) {
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    m = re.exec(text);
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

export function parseMetrics(text: string): Scrape {
  const samples: Scrape['samples'] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3]) });
  }
  const all = (name: string, labels: Record<string, string> = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .map(({ labels: l, value }) => ({ labels: l, value }));
  const valueOr = (name: string, labels: Record<string, string>, fallback: number) => {
    const found = all(name, labels);
    if (found.length > 1)
      throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples: ${JSON.stringify(found)}`);
    return found[0]?.value ?? fallback;
  };
  return {
    samples,
    types,
    text,
    all,
    valueOr,
    value(name, labels = {}) {
      const v = valueOr(name, labels, Number.NaN);
      if (Number.isNaN(v)) throw new Error(`no sample ${name}${JSON.stringify(labels)} in:\n${text}`);
      return v;
    },
  };
}

/** GET <baseUrl>/metrics, checked (200, Prometheus text) and parsed. */
export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}: ${text}`);
  if (!res.headers.get('content-type')?.startsWith('text/plain'))
    throw new Error(`GET ${baseUrl}/metrics: content-type ${res.headers.get('content-type')}`);
  return parseMetrics(text);
}
