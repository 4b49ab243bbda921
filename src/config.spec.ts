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
});

describe('loadConfig, stats rollup', () => {
  it('refreshes every 2000 ms by default; 0 turns rollups off; anything else is refused with what it got', () => {
    expect(loadConfig({}).statsRollupIntervalMs).toBe(2000);
    expect(loadConfig({ STATS_ROLLUP_INTERVAL_MS: '0' }).statsRollupIntervalMs).toBe(0);
    expect(() => loadConfig({ STATS_ROLLUP_INTERVAL_MS: 'fast' })).toThrow('STATS_ROLLUP_INTERVAL_MS: expected an integer from 0 to 3600000 (got "fast")');
  });
});
