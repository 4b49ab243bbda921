import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { parse, resolve, sep } from 'node:path';

/** The embedded PostgreSQL's user cannot reach its programs or data; the message says where and how to fix it. */
export class EmbeddedAccessError extends Error {
  override readonly name = 'EmbeddedAccessError';
}

/** What a permission check needs to know of a folder. */
export interface FolderStat {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The user PostgreSQL runs as: `uid` null when that user does not exist yet (it will own nothing). */
export interface RunAs {
  readonly name: string;
  readonly uid: number | null;
  readonly gids: readonly number[];
}

/** A folder on the way to `target` that `user` may not enter. */
export interface BlockedFolder {
  readonly folder: string;
  readonly mode: number;
  readonly target: string;
}

/** Every folder from the root down to `path`, outermost first. */
export function foldersTo(path: string): string[] {
  const absolute = resolve(path);
  const root = parse(absolute).root;
  const parts = absolute.slice(root.length).split(sep).filter(Boolean);
  return [root, ...parts.map((_, i) => root + parts.slice(0, i + 1).join(sep))];
}

/**
 * The first existing folder on the way to `target` that `user` cannot enter (no search permission
 * for its owner, group or others, as applies), or null. Folders that do not exist yet are created
 * later with mode 0755, so they are not in the way.
 */
export function firstBlockedFolder(target: string, user: RunAs, stat: (folder: string) => FolderStat | null): BlockedFolder | null {
  if (user.uid === 0) return null;
  for (const folder of foldersTo(target)) {
    const s = stat(folder);
    if (s === null) return null;
    const bit = s.uid === user.uid ? 0o100 : user.gids.includes(s.gid) ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) return { folder, mode: s.mode & 0o7777, target };
  }
  return null;
}

/** The operator's way out when PostgreSQL cannot reach `blocked`; `what` names what lies behind it. */
export function blockedMessage(blocked: BlockedFolder, user: RunAs, what: 'programs' | 'data'): string {
  const mode = blocked.mode.toString(8).padStart(4, '0');
  const move =
    what === 'programs'
      ? 'move the checkout (with its node_modules) to a folder other users can enter, such as /opt/calltrail'
      : 'set DATA_DIR to a folder other users can enter, such as /var/lib/calltrail';
  return [
    `embedded PostgreSQL: as root, calltrail runs PostgreSQL as the system user "${user.name}", which cannot enter ${blocked.folder} (mode ${mode})`,
    `on the way to its ${what} in ${blocked.target}.`,
    `Fix one of: ${move}; or let other users pass through with \`chmod o+x ${blocked.folder}\`;`,
    'or run calltrail as a user other than root; or set DATABASE_URL to a PostgreSQL of your own.',
  ].join(' ');
}

/** The system user `name` as it exists now (`id`), or one still to be created. */
export function lookupUser(name: string): RunAs {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gids = execFileSync('id', ['-G', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(/\s+/).map(Number);
    return { name, uid, gids };
  } catch {
    return { name, uid: null, gids: [] };
  }
}

/** `fs.statSync` as a {@link FolderStat}, null when the path does not exist. */
export function statFolder(folder: string): FolderStat | null {
  try {
    const s = statSync(folder);
    return { mode: s.mode, uid: s.uid, gid: s.gid };
  } catch {
    return null;
  }
}

/**
 * Before a root process hands PostgreSQL to another user: that user must reach the programs
 * (`binDir`) and the cluster's folder, or initdb fails with a bare EACCES. Throws a message that
 * names the folder in the way and the fixes.
 */
export function checkReachable(paths: { binDir: string | null; databaseDir: string }, user: RunAs, stat = statFolder): void {
  const programs = paths.binDir === null ? null : firstBlockedFolder(paths.binDir, user, stat);
  if (programs) throw new EmbeddedAccessError(blockedMessage(programs, user, 'programs'));
  const data = firstBlockedFolder(paths.databaseDir, user, stat);
  if (data) throw new EmbeddedAccessError(blockedMessage(data, user, 'data'));
}
