import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { BiRoleRepository } from '../bi/bi-role.repository';
import { runCli } from './run-cli';

const USAGE = `usage:
  npm run --silent bi -- create-role --name NAME --apps ID,ID [--password P]   prints the role's connection string (only that) on stdout
  npm run --silent bi -- drop-role --name NAME                                 drops a BI role
  npm run --silent bi -- list                                                  lists BI roles and their apps`;

/** Passwords PostgreSQL stores as sent (printable ASCII: SASLprep changes nothing) and long enough to matter. */
const PASSWORD = /^[\x21-\x7e]{12,200}$/;

type Values = { name?: string; apps?: string; password?: string };

function parseApps(apps: string | undefined): string[] {
  const list = (apps ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  if (list.length === 0 || list.some((a) => !/^\d+$/.test(a))) {
    throw new Error(`--apps: expected comma-separated numeric SDKAppIDs, got ${JSON.stringify(apps ?? '')}\n${USAGE}`);
  }
  return [...new Set(list)];
}

/** The URL calltrail connects with, as the new role: same server, database and options. */
function connectionString(url: string, name: string, password: string): string {
  const u = new URL(url);
  u.username = name;
  u.password = encodeURIComponent(password);
  return u.toString();
}

async function createRole(repo: BiRoleRepository, url: string, values: Values): Promise<void> {
  if (!values.name) throw new Error(`--name: expected a role name, got nothing\n${USAGE}`);
  const apps = parseApps(values.apps);
  if (values.password !== undefined && !PASSWORD.test(values.password)) {
    throw new Error('--password: expected 12 to 200 printable ASCII characters without spaces, got another value');
  }
  const version = await repo.serverVersion();
  if (version < 150000) {
    throw new Error(`PostgreSQL: expected version 15 or later for BI roles (row-level security through security_invoker views), got ${version}`);
  }
  const password = values.password ?? randomBytes(18).toString('base64url');
  try {
    await repo.create(values.name, apps, password);
  } catch (err) {
    if ((err as { code?: string }).code === '42710') throw new Error(`--name: expected a role name not in use on this server, got ${JSON.stringify(values.name)}`);
    throw err;
  }
  process.stdout.write(`${connectionString(url, values.name, password)}\n`);
  console.error(`created BI role ${values.name} for apps ${apps.join(',')}: it reads the bi schema (docs/bi.md)`);
}

async function run(repo: BiRoleRepository, url: string, argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, apps: { type: 'string' }, password: { type: 'string' } },
  });
  const [command] = positionals;
  if (command === 'create-role') {
    await createRole(repo, url, values);
  } else if (command === 'drop-role') {
    if (!values.name) throw new Error(`--name: expected the name of the BI role to drop, got nothing\n${USAGE}`);
    if (!(await repo.drop(values.name))) throw new Error(`--name: expected a BI role (a member of calltrail_bi), got ${JSON.stringify(values.name)}`);
    console.error(`dropped BI role ${values.name}`);
  } else if (command === 'list') {
    for (const role of await repo.list()) console.log(`${role.name}\tapps=${role.sdkAppIds.join(',')}`);
  } else {
    throw new Error(`command: expected create-role, drop-role or list, got ${JSON.stringify(command ?? '')}\n${USAGE}`);
  }
}

runCli(async (db) => {
  try {
    await run(new BiRoleRepository(db.dataSource), db.url, process.argv.slice(2));
  } catch (err) {
    if ((err as { code?: string }).code === '42501') throw new Error(`permission: expected a database user that may create roles (CREATEROLE or superuser), got ${(err as Error).message}`);
    throw err;
  }
});
