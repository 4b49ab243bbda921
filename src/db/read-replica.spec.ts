import { isUnreachable } from './read-replica';

describe('isUnreachable', () => {
  const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it('is true for a replica that cannot be reached or will not take a connection', () => {
    expect(isUnreachable(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5433'))).toBe(true);
    expect(isUnreachable(Object.assign(new AggregateError([pgError('ECONNREFUSED')], ''), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    for (const code of ['08006', '08001', '28P01', '3D000', '53300', '57P01', '57P03']) expect(isUnreachable(pgError(code))).toBe(true);
  });

  it('looks inside a TypeORM QueryFailedError at the driver error', () => {
    expect(isUnreachable(Object.assign(new Error('query failed'), { driverError: pgError('57P01', 'terminating connection due to administrator command') }))).toBe(true);
  });

  it('is false for a statement that failed: the primary would fail it the same way', () => {
    for (const code of ['42601', '42P01', '57014', '40001', '22P02']) expect(isUnreachable(pgError(code))).toBe(false);
    expect(isUnreachable(new Error('syntax error at or near "SELEC"'))).toBe(false);
    expect(isUnreachable(null)).toBe(false);
    expect(isUnreachable('a string')).toBe(false);
  });
});
