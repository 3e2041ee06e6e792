/**
 * The machine's public key reaches root's authorized_keys from the container's environment,
 * added before sshd starts (images/rootfs.ts): an archive unpacked into a container before
 * its first start costs its engine a re-exec and a mount, a fifth of a core-second per create.
 * Images that do this carry the label, which names the variable; older ones get the archive.
 */
export const AUTHORIZED_KEY_ENV = 'MACHINE_AUTHORIZED_KEY';
export const KEY_FROM_ENV_LABEL = 'io.machine.key-from-env';
