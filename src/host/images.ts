// Base images drivers boot from, built on this computer (no registry needed).
export { buildBaseImage } from '../drivers/docker/image.js';
