import { adminQuery } from './pg-admin';

export default async function teardown(): Promise<void> {
  const adminUrl = process.env.CALLTRAIL_TEST_ADMIN_URL;
  const template = process.env.CALLTRAIL_TEST_TEMPLATE;
  if (adminUrl && template) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
  await globalThis.__calltrailEmbedded?.stop();
}
