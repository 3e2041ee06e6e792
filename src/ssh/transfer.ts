import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { SshError } from '../errors.js';

// Copies behave like `scp [-r]`: an existing directory as destination receives the source
// inside it under its own name; file modes travel with the files.

export async function uploadPath(sftp: SFTPWrapper, local: string, remote: string, recursive: boolean): Promise<void> {
  const st = await stat(local).catch((err: NodeJS.ErrnoException) => {
    throw new SshError(err.code === 'ENOENT' ? `${local}: no such file or directory` : `Cannot read ${local}: ${err.message}`, { cause: err });
  });
  const into = await remoteStat(sftp, remote).then((s) => s.isDirectory(), () => false);
  const target = into ? posix.join(remote, basename(local)) : remote;
  if (st.isDirectory()) {
    if (!recursive) throw new SshError(`${local} is a directory (copy it recursively)`);
    await uploadDir(sftp, local, target);
  } else {
    await put(sftp, local, target, st.mode & 0o777);
  }
}

export async function downloadPath(sftp: SFTPWrapper, remote: string, local: string, recursive: boolean): Promise<void> {
  const st = await remoteStat(sftp, remote).catch((err: Error) => {
    throw new SshError(`Cannot copy ${remote} from the host: ${err.message}`, { cause: err });
  });
  const into = await stat(local).then((s) => s.isDirectory(), () => false);
  const target = into ? join(local, posix.basename(remote)) : local;
  // A local folder that is not there fails here, in one line, not deep inside the copy.
  await stat(dirname(target)).catch((err: NodeJS.ErrnoException) => {
    throw new SshError(`Cannot copy to ${local}: ${err.code === 'ENOENT' ? `${dirname(target)} does not exist` : err.message}`, { cause: err });
  });
  if (st.isDirectory()) {
    if (!recursive) throw new SshError(`${remote} is a directory (copy it recursively)`);
    await downloadDir(sftp, remote, target);
  } else {
    await get(sftp, remote, target, st.mode & 0o777);
  }
}

function remoteStat(sftp: SFTPWrapper, path: string): Promise<Stats> {
  return new Promise((res, rej) => sftp.stat(path, (e, s) => (e ? rej(e) : res(s))));
}

function put(sftp: SFTPWrapper, local: string, remote: string, mode: number): Promise<void> {
  return new Promise((res, rej) =>
    sftp.fastPut(local, remote, { mode }, (e) => (e ? rej(new SshError(`Cannot write ${remote} on the host: ${e.message}`, { cause: e })) : res())),
  );
}

async function get(sftp: SFTPWrapper, remote: string, local: string, mode: number): Promise<void> {
  await new Promise<void>((res, rej) =>
    sftp.fastGet(remote, local, (e) => (e ? rej(new SshError(`Cannot copy ${remote} from the host: ${e.message}`, { cause: e })) : res())),
  );
  await chmod(local, mode);
}

async function uploadDir(sftp: SFTPWrapper, local: string, remote: string): Promise<void> {
  const mode = (await stat(local)).mode & 0o777;
  await new Promise<void>((res, rej) =>
    sftp.mkdir(remote, { mode }, (e) => {
      // An existing directory is merged into, as scp does.
      if (!e) return res();
      remoteStat(sftp, remote).then(
        (s) => (s.isDirectory() ? res() : rej(new SshError(`Cannot create ${remote} on the host: ${e.message}`, { cause: e }))),
        () => rej(new SshError(`Cannot create ${remote} on the host: ${e.message}`, { cause: e })),
      );
    }),
  );
  for (const name of await readdir(local)) {
    const l = join(local, name);
    const r = posix.join(remote, name);
    // stat, not lstat: symbolic links are followed, as scp -r does.
    const st = await stat(l).catch(() => undefined);
    if (st?.isDirectory()) await uploadDir(sftp, l, r);
    else if (st?.isFile()) await put(sftp, l, r, st.mode & 0o777);
  }
}

async function downloadDir(sftp: SFTPWrapper, remote: string, local: string): Promise<void> {
  await mkdir(local, { recursive: true });
  const list = await new Promise<FileEntryWithStats[]>((res, rej) => sftp.readdir(remote, (e, l) => (e ? rej(e) : res(l))));
  for (const e of list) {
    const r = posix.join(remote, e.filename);
    const l = join(local, e.filename);
    const st = e.attrs.isSymbolicLink() ? await remoteStat(sftp, r).catch(() => undefined) : e.attrs;
    if (st?.isDirectory()) await downloadDir(sftp, r, l);
    else if (st?.isFile()) await get(sftp, r, l, st.mode & 0o777);
  }
}
