import { describe, expect, it } from 'vitest';
import { renderTemplate, splitTableFormat, TemplateError } from '../../src/template/go-template.js';
import type { ListItem } from '../../src/host/listing.js';

const host = {
  Name: 'dev',
  Driver: { IPAddress: '10.0.0.2', SSHPort: 22, Empty: '' },
  HostOptions: { EngineOptions: { Labels: ['a=1', 'b=2'], Env: [] as string[] } },
};

describe('Go template subset', () => {
  it('resolves fields, nested fields, and missing keys as Go maps do', () => {
    expect(renderTemplate('{{.Name}} {{.Driver.IPAddress}}', host)).toBe('dev 10.0.0.2');
    expect(renderTemplate('{{.Nope}}', host)).toBe('<no value>');
    expect(renderTemplate('{{.HostOptions.EngineOptions.Labels}}', host)).toBe('[a=1 b=2]');
    expect(renderTemplate('{{.Driver}}', host)).toBe('map[Empty: IPAddress:10.0.0.2 SSHPort:22]');
  });

  it('supports json, prettyjson, printf, len, index, join, upper and pipelines', () => {
    expect(renderTemplate('{{json .Driver}}', host)).toBe('{"IPAddress":"10.0.0.2","SSHPort":22,"Empty":""}');
    expect(renderTemplate('{{prettyjson .HostOptions.EngineOptions.Env}}', host)).toBe('[]');
    expect(renderTemplate('{{printf "%s:%d" .Driver.IPAddress .Driver.SSHPort}}', host)).toBe('10.0.0.2:22');
    expect(renderTemplate('{{.Name | printf "%q"}}', host)).toBe('"dev"');
    expect(renderTemplate('{{len .HostOptions.EngineOptions.Labels}}', host)).toBe('2');
    expect(renderTemplate('{{index .Driver "IPAddress"}}', host)).toBe('10.0.0.2');
    expect(renderTemplate('{{join .HostOptions.EngineOptions.Labels ","}}', host)).toBe('a=1,b=2');
    expect(renderTemplate('{{upper .Name}}', host)).toBe('DEV');
  });

  it('supports if/else, with, range with $ and variables, and trim markers', () => {
    expect(renderTemplate('{{if .Driver.Empty}}yes{{else}}no{{end}}', host)).toBe('no');
    expect(renderTemplate('{{if eq .Name "x"}}x{{else if eq .Name "dev"}}d{{end}}', host)).toBe('d');
    expect(renderTemplate('{{with .Driver}}{{.IPAddress}}{{end}}', host)).toBe('10.0.0.2');
    expect(renderTemplate('{{range .HostOptions.EngineOptions.Labels}}[{{.}}@{{$.Name}}]{{end}}', host)).toBe('[a=1@dev][b=2@dev]');
    expect(renderTemplate('{{range $i, $l := .HostOptions.EngineOptions.Labels}}{{$i}}={{$l}} {{end}}', host)).toBe('0=a=1 1=b=2 ');
    expect(renderTemplate('{{range .HostOptions.EngineOptions.Env}}x{{else}}none{{end}}', host)).toBe('none');
    expect(renderTemplate('{{$n := .Name}}{{$n}}-{{$n}}', host)).toBe('dev-dev');
    expect(renderTemplate('a  {{- .Name -}}  b', host)).toBe('adevb');
    expect(renderTemplate('{{/* a comment */}}ok', host)).toBe('ok');
  });

  it('gives Go-like one-line errors', () => {
    expect(() => renderTemplate('{{foo .Name}}', host)).toThrow(TemplateError);
    expect(() => renderTemplate('{{foo .Name}}', host)).toThrow('function "foo" not defined');
    expect(() => renderTemplate('{{.Name', host)).toThrow('unclosed action');
    expect(() => renderTemplate('{{if .Name}}x', host)).toThrow('unexpected EOF');
    expect(() => renderTemplate('{{.Name.Foo}}', host)).toThrow(/can't evaluate field Foo/);
  });

  it('splits the table prefix and turns typed \\t into tabs', () => {
    expect(splitTableFormat('table {{.Name}}\\t{{.URL}}')).toEqual({ table: true, body: '{{.Name}}\t{{.URL}}' });
    expect(splitTableFormat('{{.Name}}')).toEqual({ table: false, body: '{{.Name}}' });
  });
});

describe('ls without --format', () => {
  it('prints what Docker Machine\'s default format renders, tabs in a field included', async () => {
    const { DEFAULT_FORMAT, defaultRows } = await import('../../src/cli/commands/ls.js');
    const item = (over: Partial<ListItem>): ListItem => ({
      Name: 'm1', Active: '-', ActiveHost: false, ActiveSwarm: false, DriverName: 'generic', State: 'Running',
      URL: 'tcp://10.0.0.2:2376', SwarmOptions: null, Swarm: '', EngineOptions: null, DockerVersion: 'v28.0.0',
      Error: '', ResponseTime: '3ms', Labels: [], ...over,
    });
    const items = [
      item({}),
      item({ Name: 'm2', Active: '*', State: 'Stopped', URL: '', DockerVersion: 'Unknown', Swarm: 'm1 (master)' }),
      item({ Name: 'bad', DriverName: '', State: 'Error', Error: 'config.json:\tbroken\nline two' }),
    ];
    const { table, body } = splitTableFormat(DEFAULT_FORMAT);
    expect(table).toBe(true);
    const headers = { Name: 'NAME', Active: 'ACTIVE', DriverName: 'DRIVER', State: 'STATE', URL: 'URL', Swarm: 'SWARM', DockerVersion: 'DOCKER', Error: 'ERRORS' };
    const byTemplate = [headers, ...items].map((x) => renderTemplate(body, x).split('\t'));
    expect(defaultRows(items)).toEqual(byTemplate);
    expect(defaultRows(items)[3]).toHaveLength(9);
  });
});

describe('ls --format that does not parse', () => {
  it('fails at once, as Docker Machine parses before it lists: not after every machine answered', async () => {
    const { machine, tempStore } = await import('../helpers/cli.js');
    const { createServer } = await import('node:net');
    // An engine that takes the connection and never answers its TLS handshake: without the
    // check first, ls waits for it until its 600 s timeout, past this test's.
    const held: import('node:net').Socket[] = [];
    const silent = createServer((s) => void held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const store = await tempStore('machine-ls-format-');
      expect((await machine(store, ['create', '-d', 'none', '--url', `tcp://127.0.0.1:${port}`, 'n1'])).code).toBe(0);
      const r = await machine(store, ['ls', '-t', '600', '--format', '{{.Name'], { timeoutMs: 60_000 });
      expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'template: :1: unclosed action\n' });
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  }, 90_000);
});
