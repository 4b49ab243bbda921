/** tls-sig-api-v2 (Tencent's published signer) ships no types: the one method calltrail uses. */
interface TlsSigApi {
  genUserSig(userId: string, expireSeconds: number): string;
}
// The file by name: the package's package.json names two `main`s, and not every resolver takes the last.
const { Api } = require('tls-sig-api-v2/TLSSigAPIv2.js') as { Api: new (sdkAppId: number, key: string) => TlsSigApi };

/** How long a UserSig is valid; Tencent recommends at least 24 hours. */
const VALID_SECONDS = 24 * 60 * 60;
/** A UserSig is signed again after this long, well before it expires. */
const RENEW_MS = 60 * 60 * 1000;

/**
 * Signs the UserSig of an app's administrator with Tencent's `tls-sig-api-v2`, the signature the
 * REST APIs want in `usersig` (docs/trtc-callbacks.md, section 7). One is reused for an hour.
 * The secret key stays inside; nothing here logs.
 */
export class UserSigSigner {
  private readonly api: TlsSigApi;
  private cached: { sig: string; at: number } | null = null;

  constructor(
    sdkAppId: string,
    secretKey: string,
    private readonly identifier: string,
    private readonly now: () => number = Date.now,
  ) {
    this.api = new Api(Number(sdkAppId), secretKey);
  }

  /** A valid UserSig for the administrator. */
  sign(): string {
    const t = this.now();
    if (this.cached === null || t - this.cached.at >= RENEW_MS) this.cached = { sig: this.api.genUserSig(this.identifier, VALID_SECONDS), at: t };
    return this.cached.sig;
  }
}
