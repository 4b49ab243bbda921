import { randomUUID } from 'node:crypto';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** How a spool folder is claimed by one process. */
export interface DirLockOptions {
  /** A LOCK not refreshed for this long belongs to a process that is gone (default 5 s). */
  readonly staleMs?: number;
  /** How long to wait for a held LOCK to go stale before giving up (default staleMs + 2 s). */
  readonly waitMs?: number;
}

/** A held LOCK: refreshed every second while held. */
export interface DirLock {
  /** Throws unless this process still holds the LOCK (another one took it over after a stall). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

const HEARTBEAT_MS = 1000;

/**
 * Claims `dir/LOCK` for this process: two processes appending to and replaying one spool would delete
 * each other's acknowledged records. The owner refreshes the file's time every second; a newcomer
 * waits until it is older than `staleMs` (its owner crashed or was killed) before taking it over.
 * Process ids cannot decide this: in containers every calltrail is pid 1.
 */
export async function lockDirectory(dir: string, options: DirLockOptions = {}): Promise<DirLock> {
  const path = join(dir, 'LOCK');
  const staleMs = options.staleMs ?? 5000;
  const deadline = Date.now() + (options.waitMs ?? staleMs + 2000);
  const token = `${hostname()} pid ${process.pid} ${randomUUID()}`;
  for (;;) {
    if (await tryCreate(path, token)) return heldLock(path, token);
    const age = await stat(path).then((st) => Date.now() - st.mtimeMs, () => null);
    if (age !== null && age > staleMs) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      const owner = await readFile(path, 'utf8').catch(() => 'unknown');
      throw new Error(`spool: expected ${dir} to be used by this process only, got it locked by ${owner} (refreshed ${age} ms ago); give each replica its own SPOOL_DIR`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function tryCreate(path: string, token: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.writeFile(token);
    await handle.sync();
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function heldLock(path: string, token: string): DirLock {
  const assertHeld = async () => {
    const current = await readFile(path, 'utf8').catch(() => null);
    if (current !== token) throw new Error(`spool: expected to hold ${path}, got it held by ${current ?? 'nobody'}; refusing to write or delete`);
  };
  const beat = setInterval(() => {
    const now = new Date();
    void assertHeld().then(() => utimes(path, now, now), () => clearInterval(beat));
  }, HEARTBEAT_MS);
  beat.unref();
  return {
    assertHeld,
    async release() {
      clearInterval(beat);
      if (await assertHeld().then(() => true, () => false)) await unlink(path).catch(() => undefined);
    },
  };
}
