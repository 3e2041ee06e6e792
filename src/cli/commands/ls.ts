import { UsageError } from '../../errors.js';
import type { Command } from '../context.js';
import { list, str } from '../args.js';
import { tabwrite } from '../table.js';
import { listMachines, type ListItem } from '../../host/listing.js';
import { answerTap } from '../../answer-tap.js';

/** Docker Machine's format for `ls`; without --format the rows are made by defaultRows. */
export const DEFAULT_FORMAT =
  'table {{ .Name }}\t{{ .Active }}\t{{ .DriverName}}\t{{ .State }}\t{{ .URL }}\t{{ .Swarm }}\t{{ .DockerVersion }}\t{{ .Error}}';
const HEADERS: Record<string, string> = {
  Name: 'NAME',
  Active: 'ACTIVE',
  ActiveHost: 'ACTIVE_HOST',
  ActiveSwarm: 'ACTIVE_SWARM',
  DriverName: 'DRIVER',
  State: 'STATE',
  URL: 'URL',
  SwarmOptions: 'SWARM_OPTIONS',
  Swarm: 'SWARM',
  EngineOptions: 'ENGINE_OPTIONS',
  Error: 'ERRORS',
  DockerVersion: 'DOCKER',
  ResponseTime: 'RESPONSE',
};

type Filter = (item: ListItem) => boolean;

/**
 * The rows DEFAULT_FORMAT renders, header first, made without the template engine: loading and
 * running it was 2 ms of `ls` of one machine. Its fields are strings, printed as they are, and
 * a tab in one (an error message) splits the cell as the template's output would.
 */
export function defaultRows(items: ListItem[]): string[][] {
  const row = (cells: string[]) => cells.join('\t').split('\t');
  return [
    row([HEADERS.Name!, HEADERS.Active!, HEADERS.DriverName!, HEADERS.State!, HEADERS.URL!, HEADERS.Swarm!, HEADERS.DockerVersion!, HEADERS.Error!]),
    ...items.map((i) => row([i.Name, i.Active, i.DriverName, i.State, i.URL, i.Swarm, i.DockerVersion, i.Error])),
  ];
}

/** Docker Machine's rule: values of one key are OR-ed, different keys are AND-ed. */
export function buildFilter(specs: string[]): Filter {
  const byKey = new Map<string, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`Unsupported filter syntax "${spec}": use KEY=VALUE`);
    const key = spec.slice(0, eq).toLowerCase();
    if (!['name', 'driver', 'state', 'label', 'swarm'].includes(key)) {
      throw new UsageError(`Unsupported filter key '${key}': use name, driver, state, label or swarm`);
    }
    const value = spec.slice(eq + 1);
    if (key === 'name') {
      try {
        new RegExp(value);
      } catch (err) {
        throw new UsageError(`--filter ${spec} is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')}): escape special characters, e.g. name=web\\.1`);
      }
    }
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  }
  const tests: Filter[] = [...byKey].map(([key, values]) => (item) =>
    values.some((value) => {
      switch (key) {
        case 'name':
          return new RegExp(value).test(item.Name);
        case 'driver':
          return item.DriverName.toLowerCase() === value.toLowerCase();
        case 'state':
          return item.State.toLowerCase() === value.toLowerCase();
        case 'label':
          return item.Labels.includes(value);
        case 'swarm':
          return item.Swarm.split(' ')[0] === value;
        default:
          return false;
      }
    }),
  );
  return (item) => tests.every((t) => t(item));
}

/**
 * ls of more machines than this is never answered from the cache (../answer-cache.ts): its
 * replay asks every machine again at once, where ls bounds how many it asks at a time.
 */
const MAX_ANSWERED = 16;

const ls: Command = {
  name: 'ls',
  answerable: true,
  usage: '[OPTIONS] [arg...]',
  description: 'List machines',
  options: {
    quiet: { type: 'boolean', short: 'q', description: 'Enable quiet mode' },
    filter: { type: 'string', multiple: true, description: 'Filter output based on conditions provided', placeholder: 'KEY=VALUE' },
    timeout: { type: 'string', short: 't', description: 'Timeout in seconds, default to 10s', default: '10', placeholder: 'seconds' },
    format: { type: 'string', short: 'f', description: 'Pretty-print machines using a Go template, or "json" for one JSON array', placeholder: 'template' },
  },
  async run(cli, parsed) {
    const timeout = Number(str(parsed.values['timeout']));
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`invalid --timeout "${str(parsed.values['timeout'])}": give seconds, e.g. 10`);
    const filters = list(parsed.values['filter']);
    const filter = buildFilter(filters);
    const format = str(parsed.values['format']);
    const all = await cli.store.list();
    // Names alone need no state: `ls -q` without state filters answers from the store.
    if (parsed.values['quiet'] && filters.every((f) => /^name=/i.test(f))) {
      const names = all.filter((name) => filter({ Name: name } as ListItem));
      for (const name of names) cli.out(name);
      return;
    }
    // Response times differ from run to run: an answer that shows them is not given again.
    if (all.length > MAX_ANSWERED || format === 'json' || /ResponseTime/.test(format)) answerTap()?.pass();
    // The template engine loads while the machines answer: a timer turn from now, once their
    // probes and handshakes are on their way (ls of one machine: 3 ms).
    const templates =
      parsed.values['quiet'] || format === 'json' || !format
        ? undefined
        : new Promise((r) => setTimeout(r, 0)).then(async () => {
            const t = await import('../../template/go-template.js');
            const split = t.splitTableFormat(format);
            t.parseTemplate(split.body);
            return { ...t, ...split };
          });
    templates?.catch(() => undefined);
    const listing = listMachines(cli.store, timeout * 1000, { names: all, debug: (l) => cli.log.debug(l) });
    listing.catch(() => undefined);
    // A template that does not parse fails now, as Docker Machine's does (it parses before it
    // lists), not after every machine answered or timed out.
    const items = (await (templates ? Promise.race([listing, templates.then(() => listing)]) : listing)).filter(filter);
    if (parsed.values['quiet']) {
      for (const item of items) cli.out(item.Name);
      return;
    }
    // One array of the same fields the templates see: a stable interface (README "JSON interfaces").
    if (format === 'json') {
      cli.out(JSON.stringify(items));
      return;
    }
    if (!templates) {
      cli.out(tabwrite(defaultRows(items)));
      return;
    }
    const { renderTemplate, table, body } = await templates;
    const rows: string[][] = [];
    if (table) {
      rows.push(renderTemplate(body, HEADERS).split('\t'));
    }
    for (const item of items) rows.push(renderTemplate(body, item).split('\t'));
    const text = table ? tabwrite(rows) : rows.map((r) => r.join('\t')).join('\n');
    if (text) cli.out(text);
  },
};
export default ls;
