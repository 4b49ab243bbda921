/**
 * Takes docs/console.png: calltrail on an embedded PostgreSQL in a temporary folder, a day of simulated
 * calls up to now, a few calls ringing and ongoing, and the console in headless Chromium.
 *
 *   npx tsx scripts/console-screenshot.ts [out.png]
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser';
import { postCallback, type CallbackBody } from '../test/support/callbacks';
import { callEvents, type CallSpec } from '../test/support/dataset';
import { settle, startProcess } from '../test/support/ws';

const APPS = ['1400000001', '1400000002'];
const USERS = ['alice', 'bob', 'chen.wei', 'dana', 'emeka', 'farah', 'goro', 'hana', 'ivan', 'jun'];
const KEY = 'screenshot-key-0123456789';
const OUTCOMES: CallSpec['outcome'][] = ['answered', 'answered', 'answered', 'missed', 'rejected'];

/** A small seeded generator: the same picture every run (on the same hour of the day). */
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];

function simulatedCall(id: string, start: number, outcome: CallSpec['outcome'], talk = 30 + Math.floor(random() * 600)): CallbackBody[] {
  const caller = pick(USERS);
  const callee = pick(USERS.filter((u) => u !== caller));
  const media = random() < 0.35 ? 'video' : 'audio';
  return callEvents({ callId: id, caller, callees: [callee], media, start, outcome, ring: 3 + Math.floor(random() * 12), talk });
}

async function postAll(baseUrl: string, bodies: CallbackBody[], sdkAppId: string): Promise<void> {
  for (const body of bodies) {
    const res = await postCallback(baseUrl, body, { sdkAppId });
    if (res.status !== 200) throw new Error(`callback refused: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

async function main(out: string): Promise<void> {
  delete process.env.DATABASE_URL; // always the embedded PostgreSQL, in a folder of its own
  const dataDir = mkdtempSync(join(tmpdir(), 'calltrail-screenshot-'));
  chmodSync(dataDir, 0o755); // the embedded server runs as the postgres user when we are root
  const app = await startProcess({ DATA_DIR: dataDir, SDKAPPIDS: APPS.join(','), BOOTSTRAP_API_KEY: KEY, NODE_ENV: 'production' });
  const browser = await launchChromium();
  try {
    const now = Math.floor(Date.now() / 1000);
    const midnight = Math.floor(new Date(new Date().setHours(0, 0, 0, 0)).getTime() / 1000);
    for (let t = midnight + 600, n = 0; t < now - 900; t += 300 + Math.floor(random() * 1500), n++) {
      await postAll(app.baseUrl, simulatedCall(`day-${n}`, t, pick(OUTCOMES)), pick(APPS));
    }
    await browser.page.goto(`${app.baseUrl}/console`);
    await browser.page.fill('#api-key', KEY);
    await browser.page.click('#key-form button[type=submit]');
    await browser.page.locator('#status', { hasText: 'Live' }).waitFor();
    // Two calls ringing (start_call, receive_call), three answered (and accept_call, call_accepted), two over.
    for (let n = 0; n < 7; n++) {
      const bodies = n < 5 ? simulatedCall(`live-${n}`, now - 90 + n * 12, 'ongoing') : simulatedCall(`live-${n}`, now - 60, 'answered', 20 + n);
      await postAll(app.baseUrl, n < 5 ? bodies.slice(0, n < 2 ? 2 : 4) : bodies, pick(APPS));
    }
    await settle(2500);
    await browser.page.screenshot({ path: out, fullPage: false });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main(process.argv[2] ?? join(__dirname, '..', 'docs', 'console.png')).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
