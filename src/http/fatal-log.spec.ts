import { ConfigError } from '../config';
import { fatalLine } from './fatal-log';

describe('fatalLine', () => {
  it('writes an error as one JSON line at level fatal, with its stack and its own fields as fields', () => {
    const err = Object.assign(new Error('spool: expected /var/spool to be used by this process only, got it locked'), { code: 'ELOCKED' });
    const line = fatalLine(err, 'start-up failed', () => 1_700_000_000_000);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      level: 60,
      time: 1_700_000_000_000,
      pid: process.pid,
      hostname: expect.any(String),
      msg: 'start-up failed',
      err: { type: 'Error', message: err.message, stack: err.stack, code: 'ELOCKED' },
    });
  });

  it('keeps the problems of a refused configuration as a list', () => {
    const parsed = JSON.parse(fatalLine(new ConfigError(['PORT: expected an integer, got "abc"']), 'start-up failed'));
    expect(parsed.err).toMatchObject({ type: 'ConfigError', problems: ['PORT: expected an integer, got "abc"'] });
    expect(parsed.err.message).toContain('PORT: expected an integer');
  });

  it('still writes type, message and stack when a field of the error cannot be written as JSON', () => {
    const err = Object.assign(new Error('pool closed'), { size: 10n });
    expect(JSON.parse(fatalLine(err, 'start-up failed')).err).toEqual({ type: 'Error', message: 'pool closed', stack: err.stack });
  });

  it('writes a thrown value that is not an Error as its text', () => {
    expect(JSON.parse(fatalLine('boom', 'start-up failed')).err).toEqual({ type: 'string', message: 'boom' });
  });
});
