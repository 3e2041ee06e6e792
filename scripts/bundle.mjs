// Bundles with rolldown's API rather than its CLI: the CLI prints a table of every chunk,
// and a build should print nothing unless it fails.
import { rolldown } from 'rolldown';
import config from '../rolldown.config.mjs';

const { output, ...input } = config;
const bundle = await rolldown({ ...input, logLevel: 'warn' });
try {
  await bundle.write(output);
} finally {
  await bundle.close();
}
