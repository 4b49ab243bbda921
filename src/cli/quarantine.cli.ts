import { parseArgs } from 'node:util';
import { QuarantineReplay, whyNotReplayable, type ReplayOutcome } from '../ingest/quarantine-replay';
import { QuarantineRepository } from '../quarantine/quarantine.repository';
import { runCli } from './run-cli';
import { toolIngest } from './tool-ingest';

const USAGE = `usage:
  npm run --silent quarantine -- list [--reason R] [--limit N]         newest first (R: an error code such as UNKNOWN_APP, or words of the reason)
  npm run --silent quarantine -- replay --id N | --all [--reason R] [--unverified]
      re-ingests kept refusals with the configuration of now: a stored one leaves the quarantine,
      one refused again stays with its new reason. Exit code: 0 all stored, 2 some remain, 1 an error.`;

const OPTIONS = {
  reason: { type: 'string' },
  limit: { type: 'string' },
  id: { type: 'string' },
  all: { type: 'boolean' },
  unverified: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function list(repo: QuarantineRepository, values: Values): Promise<void> {
  const limit = Number(values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new Error(`--limit: expected an integer from 1 to 10000, got ${JSON.stringify(values.limit)}`);
  const rows = await repo.find({ reason: values.reason, order: 'DESC', limit });
  for (const r of rows) {
    const replay = whyNotReplayable(r, { unverified: false }) === null ? 'replayable' : r.credentialsOk === true ? 'not replayable' : 'unverified';
    console.log([r.id, r.errorCode, `x${r.times}`, r.lastSeenAt.toISOString(), `app ${r.sdkAppId ?? '-'}`, replay, r.reason].join('\t'));
  }
  console.error(`${rows.length} refusal(s) shown`);
}

function line(o: ReplayOutcome): string {
  switch (o.kind) {
    case 'stored':
      return `${o.id}\tstored (removed from the quarantine)`;
    case 'duplicate':
      return `${o.id}\talready stored (removed from the quarantine)`;
    case 'refused':
      return `${o.id}\trefused again, kept: ${o.code} ${o.reason}`;
    case 'skipped':
      return `${o.id}\tskipped, kept: ${o.reason}`;
  }
}

async function replay(replayer: QuarantineReplay, values: Values): Promise<void> {
  if (values.id === undefined && !values.all) throw new Error(`--id or --all: expected which refusals to replay, got neither\n${USAGE}`);
  if (values.id !== undefined && values.all) throw new Error('--id: expected either --id or --all, got both');
  if (values.id !== undefined && !/^\d{1,18}$/.test(values.id)) throw new Error(`--id: expected the numeric id of a refusal (see list), got ${JSON.stringify(values.id)}`);
  const outcomes = await replayer.replay({ id: values.id, reason: values.reason }, (o) => console.log(line(o)));
  if (values.id !== undefined && outcomes.length === 0) throw new Error(`--id: expected the id of a kept refusal, got ${values.id}, which is not in the quarantine`);
  const n = (kind: ReplayOutcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
  console.log(`replayed ${outcomes.length}: ${n('stored')} stored, ${n('duplicate')} already stored, ${n('refused')} refused again, ${n('skipped')} skipped`);
  if (n('refused') + n('skipped') > 0) process.exitCode = 2;
}

runCli(async (db, config) => {
  const { positionals, values } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: OPTIONS });
  const repo = new QuarantineRepository(db.dataSource);
  if (positionals[0] === 'list') return list(repo, values);
  if (positionals[0] !== 'replay') throw new Error(`command: expected list or replay, got ${JSON.stringify(positionals[0] ?? '')}\n${USAGE}`);
  const ingest = toolIngest(config, db);
  try {
    await replay(new QuarantineReplay(repo, ingest.service, { unverified: values.unverified ?? false }), values);
  } finally {
    await ingest.close();
  }
});
