import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, lockAddress, lockDataDir, type DataDirLock } from './data-dir-lock.js';

describe('lockDataDir', () => {
  let root: string;
  const held: DataDirLock[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'svapi-data-dir-lock-'));
  });
  afterEach(async () => {
    await Promise.all(held.splice(0).map((lock) => lock.release()));
    await rm(root, { recursive: true, force: true });
  });

  async function lock(dir: string): Promise<DataDirLock> {
    const taken = await lockDataDir(dir);
    held.push(taken);
    return taken;
  }

  it('refuses a second claim while the first holds the directory, naming the owner, until it is released', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    const first = await lock(dir);

    const refusal = await lockDataDir(dir).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect(refusal).toMatchObject({ dataDir: dir, ownerPid: process.pid });

    await first.release();
    await first.release(); // a second release is harmless
    await expect(lock(dir)).resolves.toBeDefined();
  });

  it('is one lock for every path that reaches the directory, and none for another directory', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await mkdir(join(root, 'other'));
    await symlink(dir, join(root, 'alias'));
    await lock(dir);

    await expect(lockDataDir(join(root, 'alias'))).rejects.toBeInstanceOf(DataDirInUseError);
    await expect(lockDataDir(`${root}/./data`)).rejects.toBeInstanceOf(DataDirInUseError);
    await expect(lock(join(root, 'other'))).resolves.toBeDefined();
  });

  it('gives only one of many simultaneous claims the directory', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    const claims = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));
    const won = claims.filter((c) => c.status === 'fulfilled');
    held.push(...won.map((c) => c.value));
    expect(won).toHaveLength(1);
    for (const claim of claims.filter((c) => c.status === 'rejected')) {
      expect(claim.reason).toBeInstanceOf(DataDirInUseError);
    }
  });

  it('is released at once even while an asker holds its connection open without reading', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    const first = await lockDataDir(dir);
    const silent = createConnection({ path: (await lockAddress(dir)).path });
    silent.pause();
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('connect', resolve));
    try {
      const released = Date.now();
      await first.release();
      expect(Date.now() - released).toBeLessThan(1_000);
      await expect(lock(dir)).resolves.toBeDefined();
    } finally {
      silent.destroy();
    }
  });

  it('survives askers that send garbage or hang up at once, and still answers', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await lock(dir);
    const { path } = await lockAddress(dir);
    const answers: string[] = [];
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const socket = createConnection({ path });
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.on(
              'data',
              (chunk: Buffer) => (answers[i] = (answers[i] ?? '') + chunk.toString()),
            );
            socket.on('connect', () =>
              i % 2 === 0 ? socket.destroy() : socket.end(Buffer.alloc(70_000, 0xff)),
            );
          }),
      ),
    );
    // The writers of garbage were answered: they reached the owner.
    expect(answers.filter(Boolean)).toEqual(Array(10).fill(`{"pid":${process.pid}}\n`));
    await expect(lockDataDir(dir)).rejects.toMatchObject({ ownerPid: process.pid });
  });
});
