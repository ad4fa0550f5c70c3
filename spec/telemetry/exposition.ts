/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4):
 * every line must be empty, a `# HELP`, a `# TYPE` or a sample, and every sample must
 * belong to a family declared by `# TYPE`. It throws on the first bad line.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE = new RegExp(`^(${NAME})(\\{.*\\})? (\\S+)( -?\\d+)?$`);
const PAIR = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`);
/** A float as Go's ParseFloat reads it (what Prometheus uses): special values in any case, e.g. prom-client's `Nan`. */
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|[+-]?inf(?:inity)?|nan)$/i;

/** Which sample names a family of each type may have. */
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['', '_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
  untyped: [''],
};

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} of /metrics ${why}: ${JSON.stringify(line)}`);
    };
    let match: RegExpExecArray | null;
    if (line === '') {
      // The format allows empty lines and gives them no meaning.
    } else if ((match = HELP.exec(line))) {
      const [, name, help] = match as unknown as [string, string, string];
      if (helps.has(name)) fail('repeats a HELP');
      helps.set(name, help);
    } else if ((match = TYPE.exec(line))) {
      const [, name, type] = match as unknown as [string, string, MetricType];
      if (families.has(name)) fail('repeats a TYPE');
      families.set(name, { name, type, help: helps.get(name) ?? '', samples: [] });
    } else if (line.startsWith('#')) {
      fail('is a comment that is neither HELP nor TYPE');
    } else if ((match = SAMPLE.exec(line))) {
      const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
      if (!VALUE.test(valueText)) fail('has a value that is not a number');
      const family = familyOf(families, name) ?? fail('has a sample of no declared family');
      family.samples.push({ name, labels: parseLabels(labelText ?? '', fail), value: numberOf(valueText) });
    } else {
      fail('is not valid exposition format');
    }
  });
  for (const [name, help] of helps) {
    if (!families.has(name)) throw new Error(`/metrics has a HELP for ${name} without a TYPE`);
    (families.get(name) as { help: string }).help = help;
  }
  return families;
}

function numberOf(text: string): number {
  const special = text.toLowerCase().replace(/^\+/, '');
  if (special === 'nan') return Number.NaN;
  if (special === 'inf' || special === 'infinity') return Number.POSITIVE_INFINITY;
  if (special === '-inf' || special === '-infinity') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function familyOf(families: Map<string, Family>, sample: string): Family | undefined {
  for (const family of families.values()) {
    if (SUFFIXES[family.type].some((suffix) => `${family.name}${suffix}` === sample)) return family;
  }
  return undefined;
}

function parseLabels(text: string, fail: (why: string) => never): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === '') return labels;
  let rest = text.slice(1, -1);
  while (rest !== '') {
    const match = PAIR.exec(rest) ?? fail(`has a malformed label near ${JSON.stringify(rest)}`);
    const [whole, name, escaped] = match as unknown as [string, string, string];
    if (name in labels) fail(`repeats the label ${name}`);
    labels[name] = escaped.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
    if (rest.startsWith(',')) rest = rest.slice(1);
    else if (rest !== '') fail(`has no comma between labels near ${JSON.stringify(rest)}`);
  }
  return labels;
}

/** The samples of a family with this exact name whose labels include `labels`. */
export function samplesOf(
  families: Map<string, Family>,
  sample: string,
  labels: Readonly<Record<string, string>> = {},
): Sample[] {
  const all = [...families.values()].flatMap((family) => family.samples);
  return all.filter(
    (s) => s.name === sample && Object.entries(labels).every(([name, value]) => s.labels[name] === value),
  );
}
