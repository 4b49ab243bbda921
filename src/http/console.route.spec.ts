import { join } from 'node:path';
import { consoleCsp, defaultConsoleDir } from './console.route';

describe('consoleCsp', () => {
  it('allows the page its own origin and the WebSocket to the same host, nothing else', () => {
    expect(consoleCsp('console.example.com:8443')).toBe(
      "default-src 'self'; connect-src 'self' ws://console.example.com:8443 wss://console.example.com:8443; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
  });

  it.each([['127.0.0.1:8080'], ['[::1]:8080'], ['localhost']])('names the socket of the plain host %s', (host) => {
    expect(consoleCsp(host)).toContain(`connect-src 'self' ws://${host} wss://${host};`);
  });

  it.each([[undefined], ['evil.example.com; script-src *'], ['a b'], ['x/y']])('keeps only self for the host header %p', (host) => {
    expect(consoleCsp(host)).toContain("connect-src 'self';");
  });
});

describe('defaultConsoleDir', () => {
  const root = join(__dirname, '..', '..');
  it('is dist/console of the package, from the sources and from the build', () => {
    expect(defaultConsoleDir(join(root, 'src', 'http'))).toBe(join(root, 'dist', 'console'));
    expect(defaultConsoleDir(join(root, 'dist', 'src', 'http'))).toBe(join(root, 'dist', 'console'));
  });
});
