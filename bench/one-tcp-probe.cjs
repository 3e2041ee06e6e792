// The floor under `machine active`: a bare node process that makes the one check active
// cannot skip (is the machine up? for the generic driver, a TCP connection to its SSH port,
// as Docker Machine's), and nothing else.
const net = require('node:net');
const [host, port] = process.argv.slice(2);
const s = net.connect(Number(port), host, () => {
  s.destroy();
  process.exit(0);
});
s.on('error', (e) => {
  require('node:fs').writeSync(2, `${e.message}\n`);
  process.exit(1);
});
