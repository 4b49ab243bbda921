import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../domain/app-error';
import { scramSha256Verifier } from './scram';

/** The group every BI role belongs to; the row-level security policies key on it (migration CreateBiViews). */
export const BI_GROUP = 'calltrail_bi';

/** Tables a BI role reads through the `bi` views (security_invoker views check the underlying tables). */
const READ_TABLES = ['calls', 'call_participants', 'call_events', 'bi_role_apps'];

/** A role name PostgreSQL takes unquoted: lower case, digits, underscores, at most 63 characters. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A BI role and the apps it may read. */
export interface BiRole {
  readonly name: string;
  readonly sdkAppIds: readonly string[];
}

/** Checks a role name, and that it does not take a name reserved by PostgreSQL or calltrail. */
export function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name) || name.startsWith('pg_') || name === BI_GROUP) {
    throw new AppError('BAD_USER_INPUT', `--name: expected a role name of lower-case letters, digits and underscores (at most 63, not starting with pg_ and not ${BI_GROUP}), got ${JSON.stringify(name)}`, 'name');
  }
}

/**
 * The one door to BI roles: PostgreSQL logins that read only the `bi` views (and the tables under
 * them), limited by row-level security to the apps listed in `bi_role_apps` (docs/bi.md).
 * Creating roles needs CREATEROLE (or a superuser).
 */
export class BiRoleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** `server_version_num`, e.g. 150004. Row-level security through views needs 150000 (security_invoker). */
  async serverVersion(): Promise<number> {
    const rows: { v: string }[] = await this.dataSource.query(`SELECT current_setting('server_version_num') AS v`);
    return Number(rows[0].v);
  }

  /** Creates a login in the BI group that sees only `sdkAppIds`, in one transaction. */
  async create(name: string, sdkAppIds: readonly string[], password: string): Promise<void> {
    checkRoleName(name);
    await this.dataSource.transaction(async (tx) => {
      await this.ensureGroup(tx);
      await tx.query(`CREATE ROLE "${name}" LOGIN PASSWORD '${scramSha256Verifier(password)}' IN ROLE ${BI_GROUP}`);
      await tx.query(`ALTER ROLE "${name}" SET search_path = bi`);
      await tx.query(
        `INSERT INTO bi_role_apps (role_name, sdk_app_id) SELECT $1, unnest($2::text[])`,
        [name, sdkAppIds],
      );
    });
  }

  /** Drops a BI role and its app list; false when `name` is not a BI role (no other role is ever dropped). */
  async drop(name: string): Promise<boolean> {
    checkRoleName(name);
    return this.dataSource.transaction(async (tx) => {
      const member: unknown[] = await tx.query(
        `SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
         WHERE g.rolname = $1 AND r.rolname = $2`,
        [BI_GROUP, name],
      );
      if (member.length === 0) return false;
      await tx.query(`DELETE FROM bi_role_apps WHERE role_name = $1`, [name]);
      await tx.query(`DROP ROLE "${name}"`);
      return true;
    });
  }

  /** BI roles of this database with their apps, by name. */
  async list(): Promise<BiRole[]> {
    const rows: { name: string; apps: string[] }[] = await this.dataSource.query(
      `SELECT role_name AS name, array_agg(sdk_app_id ORDER BY sdk_app_id) AS apps FROM bi_role_apps GROUP BY role_name ORDER BY role_name`,
    );
    return rows.map((r) => ({ name: r.name, sdkAppIds: r.apps }));
  }

  /**
   * The group, and what it may read: the `bi` views (also those a later migration adds, through
   * default privileges) and the tables under them. Granted again on every create, so a view added by
   * an upgrade is covered by the next one at the latest.
   */
  private async ensureGroup(tx: EntityManager): Promise<void> {
    // Concurrent creations of the group (two databases on one server) race on the catalog's unique index.
    await tx.query(`DO $$ BEGIN CREATE ROLE ${BI_GROUP} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    const schema: { s: string }[] = await tx.query(`SELECT relnamespace::regnamespace::text AS s FROM pg_class WHERE oid = 'calls'::regclass`);
    await tx.query(`GRANT USAGE ON SCHEMA bi, ${schema[0].s} TO ${BI_GROUP}`);
    await tx.query(`GRANT SELECT ON ALL TABLES IN SCHEMA bi TO ${BI_GROUP}`);
    await tx.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO ${BI_GROUP}`);
    await tx.query(`GRANT SELECT ON ${READ_TABLES.join(', ')} TO ${BI_GROUP}`);
  }
}
