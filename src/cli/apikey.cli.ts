import { parseArgs } from 'node:util';
import { ApiKeyRepository } from '../api-keys/api-key.repository';
import { runCli } from './run-cli';

const USAGE = `usage:
  npm run --silent apikey -- create --name NAME [--apps ID,ID]   prints the new key (only the key) on stdout
  npm run --silent apikey -- list                                 lists keys (never their secrets)
  npm run --silent apikey -- revoke NAME                          revokes the active key called NAME`;

async function run(repo: ApiKeyRepository, argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { name: { type: 'string' }, apps: { type: 'string' } } });
  const [command, arg] = positionals;
  if (command === 'create') {
    if (!values.name) throw new Error(`--name: expected a key name, got nothing\n${USAGE}`);
    const apps = values.apps === undefined ? null : values.apps.split(',').map((a) => a.trim()).filter(Boolean);
    if (apps !== null && (apps.length === 0 || apps.some((a) => !/^\d+$/.test(a)))) {
      throw new Error(`--apps: expected comma-separated numeric SDKAppIDs, got ${JSON.stringify(values.apps)}`);
    }
    const { key } = await repo.create(values.name, apps);
    process.stdout.write(`${key}\n`);
  } else if (command === 'list') {
    for (const k of await repo.list()) {
      const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
      const used = k.lastUsedAt ? k.lastUsedAt.toISOString() : 'never';
      console.log(`${k.name}\tapps=${k.sdkAppIds?.join(',') ?? 'all'}\t${state}\tlast used ${used}`);
    }
  } else if (command === 'revoke') {
    if (!arg) throw new Error(`NAME: expected the name of the key to revoke, got nothing\n${USAGE}`);
    if (!(await repo.revoke(arg))) throw new Error(`NAME: expected an active key called ${JSON.stringify(arg)}, got none`);
    console.error(`revoked ${arg}`);
  } else {
    throw new Error(`command: expected create, list or revoke, got ${JSON.stringify(command ?? '')}\n${USAGE}`);
  }
}

runCli(async (db) => {
  try {
    await run(new ApiKeyRepository(db.dataSource), process.argv.slice(2));
  } catch (err) {
    if (err instanceof Error && /uq_api_keys_active_name/.test(err.message)) throw new Error('--name: expected a name no active key has, got one in use');
    throw err;
  }
});
