import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { scramSha256Verifier } from './scram';

/** A client's proof for a login, computed from the password alone (RFC 5802, section 3). */
function clientProof(password: string, salt: Buffer, iterations: number, authMessage: string): Buffer {
  const key = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', key).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  return Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
}

describe('scramSha256Verifier', () => {
  it('has the shape PostgreSQL stores, with the salt and iterations it was given', () => {
    const salt = Buffer.from('0123456789abcdef');
    expect(scramSha256Verifier('secret', salt, 4096)).toMatch(new RegExp(`^SCRAM-SHA-256\\$4096:${salt.toString('base64').replace(/[+/]/g, '\\$&')}\\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`));
  });

  it('lets a server holding only the verifier check a client proof made from the password, and refuse a wrong one', () => {
    const salt = Buffer.from('fedcba9876543210');
    const [, , keys] = scramSha256Verifier('right password', salt, 4096).split('$');
    const storedKey = Buffer.from(keys.split(':')[0], 'base64');
    const authMessage = 'n=,r=abc,r=abcdef,s=...,i=4096,c=biws,r=abcdef';
    // The server's check (RFC 5802): H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey.
    const verify = (proof: Buffer) => {
      const signature = createHmac('sha256', storedKey).update(authMessage).digest();
      const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
      return createHash('sha256').update(clientKey).digest().equals(storedKey);
    };
    expect(verify(clientProof('right password', salt, 4096, authMessage))).toBe(true);
    expect(verify(clientProof('wrong password', salt, 4096, authMessage))).toBe(false);
  });

  it('draws a new salt each time', () => {
    expect(scramSha256Verifier('same')).not.toBe(scramSha256Verifier('same'));
  });
});
