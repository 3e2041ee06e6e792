// The floor under `machine ls` of one machine: a bare node process that makes the calls ls
// cannot avoid, and nothing else: the one TLS call (GET /_ping with the machine's client
// pair, as ls asks) and, when given a host and port, beside it the TCP probe of the machine's
// SSH port that tells its state (as the ls-500 floor makes both). Made as the answer cache makes it (src/cli/answer-cache.ts), the cheapest way found:
// node:tls alone, the request written and the answer's head read by hand, where node:https
// costs its HTTP client's load and a few milliseconds more. No server name for an address,
// as ls sends none: Node warns about one (DEP0123), and printing the warning cost this floor
// a few milliseconds ls does not spend.
const tls = require('node:tls');
const { isIP } = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const [url, dir, probeHost, probePort] = process.argv.slice(2);
// Exits 0 once both answered as a running machine's do.
let pending = probeHost ? 2 : 1;
const done = () => --pending === 0 && process.exit(0);
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
  if (!(/^HTTP\/1\.[01] 200 /.test(head) && /\r\nserver: Docker\//i.test(head))) process.exit(1);
  socket.destroy();
  done();
});
socket.on('error', (e) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
socket.on('end', () => process.exit(1));
if (probeHost) {
  const probe = require('node:net').connect({ host: probeHost, port: Number(probePort) });
  probe.once('connect', () => (probe.destroy(), done()));
  probe.once('error', () => process.exit(1));
}
