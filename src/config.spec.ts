import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080, host: '0.0.0.0', databaseUrl: null, dataDir: './.calltrail', sdkAppIds: null, callbackPath: '/callback',
      callbackSecret: null, callbackSignToken: null, bootstrapApiKey: null, nodeEnv: 'development', logLevel: 'info',
      spool: true, spoolDir: 'calltrail/spool'.replace('calltrail', '.calltrail'), spoolMaxMb: 1024, dbIngestPoolSize: 4, quarantineRetentionDays: 30,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses every variable', () => {
    const config = loadConfig({
      PORT: '9000', DATABASE_URL: 'postgres://u@h/db', SDKAPPIDS: '1400000001, 1400000002', CALLBACK_PATH: '/trtc',
      CALLBACK_SECRET: 's', CALLBACK_SIGN_TOKEN: 't', BOOTSTRAP_API_KEY: 'k'.repeat(32), NODE_ENV: 'production', LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({ port: 9000, databaseUrl: 'postgres://u@h/db', sdkAppIds: ['1400000001', '1400000002'], callbackPath: '/trtc', nodeEnv: 'production' });
    expect(loadConfig({ SPOOL: 'off', DATA_DIR: '/var/lib/ct', SPOOL_MAX_MB: '5' })).toMatchObject({ spool: false, spoolDir: '/var/lib/ct/spool', spoolMaxMb: 5 });
    expect(loadConfig({ SPOOL_DIR: '/mnt/spool' }).spoolDir).toBe('/mnt/spool');
  });

  it('reads partitioning and retention, and refuses day or week partitions that would pile up', () => {
    expect(loadConfig({})).toMatchObject({ eventPartition: 'month', eventPartitionsAhead: 2, retentionDays: null, callRetentionDays: null, maintenanceIntervalMs: 600000 });
    expect(loadConfig({ EVENT_PARTITION: 'day', RETENTION_DAYS: '30', CALL_RETENTION_DAYS: '365' })).toMatchObject({ eventPartition: 'day', retentionDays: 30, callRetentionDays: 365 });
    expect(() => loadConfig({ EVENT_PARTITION: 'week' })).toThrow('EVENT_PARTITION: expected month when RETENTION_DAYS is unset (week partitions would accumulate without end), got week');
    expect(() => loadConfig({ EVENT_PARTITION: 'day', RETENTION_DAYS: '365' })).toThrow('RETENTION_DAYS: expected at most 120 with EVENT_PARTITION=day (120 partitions; use a longer EVENT_PARTITION), got 365');
    expect(() => loadConfig({ EVENT_PARTITION: 'year' })).toThrow(/EVENT_PARTITION: .*got "year"/);
  });

  it('lists every bad variable, what it expected and what it got, in one message', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SDKAPPIDS: 'abc', NODE_ENV: 'staging' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT: expected an integer from 0 to 65535 (got "eighty")');
    expect(message).toContain('DATABASE_URL: expected a postgres:// or postgresql:// URL (got a value of 9 characters)');
    expect(message).toContain('SDKAPPIDS: expected a comma-separated list of numeric SDKAppIDs (got "abc")');
    expect(message).toContain('NODE_ENV:');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('never prints a secret value', () => {
    expect(() => loadConfig({ BOOTSTRAP_API_KEY: 'short-secret' })).toThrow('BOOTSTRAP_API_KEY: expected at least 16 characters (got a value of 12 characters)');
    expect(() => loadConfig({ BOOTSTRAP_API_KEY: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('refuses to start in production without SDKAPPIDS', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow('SDKAPPIDS: expected the comma-separated SDKAppIDs to accept when NODE_ENV=production');
  });

  describe('the records API and reconcile', () => {
    const SECRET = 'not-to-be-printed-0123456789';
    const apps = (over: Record<string, unknown> = {}) => JSON.stringify({ '1400000001': { secretKey: SECRET, ...over } });
    const problems = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };

    it('is off, with no apps, by default', () => {
      expect(loadConfig({})).toMatchObject({ trtcApps: [], trtcApiBase: null, reconcileIntervalMin: null, reconcileLookbackMin: 120 });
      expect(loadConfig({ TRTC_APPS: apps(), RECONCILE_INTERVAL_MIN: '0' }).reconcileIntervalMin).toBeNull();
    });

    it('reads TRTC_APPS with documented defaults, from JSON or from a JSON file', () => {
      const want = [{ sdkAppId: '1400000001', secretKey: SECRET, identifier: 'administrator', generation: 'v4', region: 'singapore', host: null, requestsPerSecond: 20 }];
      expect(loadConfig({ TRTC_APPS: apps() }).trtcApps).toEqual(want);
      const file = join(mkdtempSync(join(tmpdir(), 'calltrail-config-')), 'trtc-apps.json');
      writeFileSync(file, apps({ identifier: 'ops_admin', generation: 'v1', region: 'china', host: 'callkit.example.com:8443', requestsPerSecond: 5 }));
      expect(loadConfig({ TRTC_APPS: file }).trtcApps).toEqual([{ ...want[0], identifier: 'ops_admin', generation: 'v1', region: 'china', host: 'callkit.example.com:8443', requestsPerSecond: 5 }]);
    });

    it('names the app and the field of each bad entry, and never prints the secret key', () => {
      const message = problems({ TRTC_APPS: JSON.stringify({ '1400000001': { secretKey: '', generation: 'v3', requestsPerSecond: 500 }, '1400000002': { secretKey: SECRET, secretkey: SECRET }, abc: {} }) });
      expect(message).toContain(`TRTC_APPS["1400000001"].secretKey: expected a non-empty string: the app's secret key`);
      expect(message).toContain('TRTC_APPS["1400000001"].generation: expected "v1" or "v4"');
      expect(message).toContain('TRTC_APPS["1400000001"].requestsPerSecond: expected an integer from 1 to 200');
      expect(message).toContain('TRTC_APPS["1400000002"]: expected only secretKey, identifier, generation, region, host and requestsPerSecond, got secretkey');
      expect(message).toContain('TRTC_APPS: expected numeric SDKAppIDs as keys, got "abc"');
      expect(message).not.toContain(SECRET);
    });

    it('does not quote invalid JSON (it may hold a secret key), nor read a missing file silently', () => {
      const message = problems({ TRTC_APPS: `{"1400000001": {"secretKey": "${SECRET}",}}` });
      expect(message).toMatch(/TRTC_APPS: expected a JSON object of apps by SDKAppID, .*, got invalid JSON/);
      expect(message).not.toContain(SECRET);
      expect(problems({ TRTC_APPS: '/nowhere/trtc-apps.json' })).toContain('got a path that cannot be read (ENOENT)');
    });

    it('needs TRTC_APPS for reconcile, and a lookback that leaves no gap between runs', () => {
      expect(problems({ RECONCILE_INTERVAL_MIN: '15' })).toContain('RECONCILE_INTERVAL_MIN: expected TRTC_APPS to name the apps to reconcile, got no TRTC_APPS');
      expect(loadConfig({ TRTC_APPS: apps(), RECONCILE_INTERVAL_MIN: '15' })).toMatchObject({ reconcileIntervalMin: 15, reconcileLookbackMin: 135 });
      expect(loadConfig({ TRTC_APPS: apps(), RECONCILE_INTERVAL_MIN: '10080' }).reconcileLookbackMin).toBe(10080);
      expect(loadConfig({ TRTC_APPS: apps(), RECONCILE_INTERVAL_MIN: '15', RECONCILE_LOOKBACK_MIN: '60' }).reconcileLookbackMin).toBe(60);
      expect(problems({ TRTC_APPS: apps(), RECONCILE_INTERVAL_MIN: '60', RECONCILE_LOOKBACK_MIN: '30' })).toContain('RECONCILE_LOOKBACK_MIN: expected at least RECONCILE_INTERVAL_MIN (60) so runs leave no gap, got 30');
      expect(problems({ RECONCILE_LOOKBACK_MIN: '20000' })).toContain('RECONCILE_LOOKBACK_MIN: expected an integer from 1 to 10080');
    });

    it('takes a base URL for another server, and apps only from SDKAPPIDS when it is set', () => {
      expect(loadConfig({ TRTC_API_BASE: 'http://127.0.0.1:9000/' }).trtcApiBase).toBe('http://127.0.0.1:9000');
      expect(problems({ TRTC_API_BASE: 'http://127.0.0.1:9000/v4' })).toContain('TRTC_API_BASE: expected an http:// or https:// base URL with no path');
      expect(problems({ TRTC_APPS: apps(), SDKAPPIDS: '1400000009' })).toContain('TRTC_APPS: expected only apps listed in SDKAPPIDS, got 1400000001');
    });
  });
});

describe('loadConfig, stats rollup', () => {
  it('refreshes every 2000 ms by default; 0 turns rollups off; anything else is refused with what it got', () => {
    expect(loadConfig({}).statsRollupIntervalMs).toBe(2000);
    expect(loadConfig({ STATS_ROLLUP_INTERVAL_MS: '0' }).statsRollupIntervalMs).toBe(0);
    expect(() => loadConfig({ STATS_ROLLUP_INTERVAL_MS: 'fast' })).toThrow('STATS_ROLLUP_INTERVAL_MS: expected an integer from 0 to 3600000 (got "fast")');
  });

  it('bounds the live fan-out only when LIVE_FANOUT_PERCENT is set below 100', () => {
    expect(loadConfig({}).liveFanoutPercent).toBe(100);
    expect(loadConfig({ LIVE_FANOUT_PERCENT: '25' }).liveFanoutPercent).toBe(25);
    expect(() => loadConfig({ LIVE_FANOUT_PERCENT: '0' })).toThrow('LIVE_FANOUT_PERCENT: expected an integer from 1 to 100 (got "0")');
  });

  it('writes batches on the ingest thread unless INGEST_THREAD is off', () => {
    expect(loadConfig({}).ingestThread).toBe(true);
    expect(loadConfig({ INGEST_THREAD: 'off' }).ingestThread).toBe(false);
    expect(() => loadConfig({ INGEST_THREAD: 'yes' })).toThrow('INGEST_THREAD: Invalid option: expected one of "on"|"off" (got "yes")');
  });
});

describe('loadConfig, read replica', () => {
  it('reads the primary by default; DATABASE_READ_URL names a replica, with a pool of DB_POOL_SIZE unless DB_READ_POOL_SIZE says otherwise', () => {
    expect(loadConfig({})).toMatchObject({ databaseReadUrl: null, dbReadPoolSize: 10, databaseReadFailover: true });
    const primary = 'postgres://calltrail:pw@primary:5432/calltrail';
    const replica = 'postgresql://calltrail:pw@replica:5432/calltrail';
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica, DB_POOL_SIZE: '6' })).toMatchObject({ databaseUrl: primary, databaseReadUrl: replica, dbReadPoolSize: 6 });
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica, DB_READ_POOL_SIZE: '30', DATABASE_READ_FAILOVER: 'off' })).toMatchObject({ dbReadPoolSize: 30, databaseReadFailover: false });
  });

  it('refuses a read URL that is not PostgreSQL (without printing it), or one without DATABASE_URL, and bad pool or failover values', () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
    };
    const bad = message({ DATABASE_URL: 'postgres://u@h/db', DATABASE_READ_URL: 'mysql://u:secret@h/db' });
    expect(bad).toContain('DATABASE_READ_URL: expected a postgres:// or postgresql:// URL (got a value of 21 characters)');
    expect(bad).not.toContain('secret');
    expect(message({ DATABASE_READ_URL: 'postgres://u@replica/db' })).toContain('DATABASE_READ_URL: expected DATABASE_URL to be set too (the primary the replica follows), got no DATABASE_URL');
    expect(message({ DB_READ_POOL_SIZE: '0' })).toContain('DB_READ_POOL_SIZE: expected an integer from 1 to 200 (got "0")');
    expect(message({ DATABASE_READ_FAILOVER: 'yes' })).toContain('DATABASE_READ_FAILOVER:');
  });
});
