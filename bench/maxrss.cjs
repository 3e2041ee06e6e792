// Preloaded (node -r) into both the CLI and bare node: prints the process's peak resident
// memory on exit, so both are measured the same way and no outside tool is needed. Written
// straight to the descriptor: process.stderr would load Node's stream machinery into both
// (about 15 ms each), hiding part of what the CLI costs over bare node.
process.on('exit', () => require('node:fs').writeSync(2, `\nmaxrss_kb=${process.resourceUsage().maxRSS}\n`));
