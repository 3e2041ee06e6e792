import { it } from 'vitest';
import { ensureVmImage } from '../harness/vm-image.js';
it('build', async () => { const t = Date.now(); console.log(await ensureVmImage((l) => console.log(l))); console.log('ms', Date.now() - t); }, 1200000);
