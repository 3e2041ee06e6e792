// Preloaded (node -r) into both the CLI and bare node: prints the process's peak resident
// memory on exit, so both are measured the same way and no outside tool is needed.
process.on('exit', () => process.stderr.write(`\nmaxrss_kb=${process.resourceUsage().maxRSS}\n`));
