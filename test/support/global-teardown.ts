import { rm } from 'node:fs/promises';
import { adminQuery } from './pg-admin';

/** Drops the template database, stops the embedded server and removes its folder: `npm test` leaves nothing behind. */
export default async function teardown(): Promise<void> {
  const adminUrl = process.env.CALLTRAIL_TEST_ADMIN_URL;
  const template = process.env.CALLTRAIL_TEST_TEMPLATE;
  if (adminUrl && template) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
  await globalThis.__calltrailEmbedded?.stop();
  if (globalThis.__calltrailEmbeddedDir) await rm(globalThis.__calltrailEmbeddedDir, { recursive: true, force: true });
}
