// The floor under `machine ls` of one machine: a bare node process that makes the one TLS
// call ls cannot avoid (GET /_ping with the machine's client pair, as ls asks), and nothing
// else. Made as the answer cache makes it (src/cli/answer-cache.ts), the cheapest way found:
// node:tls alone, the request written and the answer's head read by hand, where node:https
// costs its HTTP client's load and a few milliseconds more. No server name for an address,
// as ls sends none: Node warns about one (DEP0123), and printing the warning cost this floor
// a few milliseconds ls does not spend.
const tls = require('node:tls');
const { isIP } = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const [url, dir] = process.argv.slice(2);
const u = new URL(url.replace(/^tcp:/, 'https:'));
const read = (f) => fs.readFileSync(path.join(dir, f));
const host = u.hostname;
const socket = tls.connect({ host, port: Number(u.port), ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), servername: isIP(host) ? undefined : host, checkServerIdentity: () => undefined });
socket.once('secureConnect', () => socket.write(`GET /_ping HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
let head = '';
socket.setEncoding('latin1');
socket.on('data', (chunk) => {
  head += chunk;
  if (!head.includes('\r\n\r\n')) return;
  process.exit(/^HTTP\/1\.[01] 200 /.test(head) && /\r\nserver: Docker\//i.test(head) ? 0 : 1);
});
socket.on('error', (e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
socket.on('end', () => process.exit(1));
