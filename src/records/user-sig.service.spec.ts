import { createHmac } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { UserSigSigner } from './user-sig.service';

/** A UserSig's document: base64 of deflated JSON, with Tencent's URL-safe substitutions. */
const decode = (sig: string) => JSON.parse(inflateSync(Buffer.from(sig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '='), 'base64')).toString());

describe('UserSigSigner', () => {
  it("signs the administrator's UserSig, valid for 24 hours, with the app's key", () => {
    const doc = decode(new UserSigSigner('1400000001', 'key-0123', 'administrator').sign());
    expect(doc).toMatchObject({ 'TLS.ver': '2.0', 'TLS.identifier': 'administrator', 'TLS.sdkappid': 1400000001, 'TLS.expire': 86400 });
    const signed = `TLS.identifier:administrator\nTLS.sdkappid:1400000001\nTLS.time:${doc['TLS.time']}\nTLS.expire:86400\n`;
    expect(doc['TLS.sig']).toBe(createHmac('sha256', 'key-0123').update(signed).digest('base64'));
  });

  it('reuses a UserSig for an hour, then signs a new one', () => {
    let now = 1_718_000_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now); // the signer's and the package's clock
    try {
      const signer = new UserSigSigner('1400000001', 'key-0123', 'administrator');
      const first = signer.sign();
      now += 59 * 60 * 1000;
      expect(signer.sign()).toBe(first);
      now += 60 * 1000;
      const second = signer.sign();
      expect(second).not.toBe(first);
      expect(decode(second)['TLS.time']).toBe(decode(first)['TLS.time'] + 3600);
    } finally {
      clock.mockRestore();
    }
  });
});
